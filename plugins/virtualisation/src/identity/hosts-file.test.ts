import assert from 'node:assert/strict';
import { dnsNameProblem } from '@nsbox/core';
import { renameInHosts } from './hosts-file.js';

describe('virtualisation: the box names in /etc/hosts', () => {
  it("renames the box's old names wherever they stand, and leaves other lines byte for byte", () => {
    const before = '# written by nsbox\n127.0.0.1\tlocalhost\n10.88.0.5\told\n  192.0.2.1   db   # the database\n';
    assert.equal(
      renameInHosts(before, { hostname: 'old' }, { hostname: 'web', domainname: 'example.org' }),
      '# written by nsbox\n127.0.0.1\tlocalhost\n10.88.0.5\tweb.example.org web\n  192.0.2.1   db   # the database\n',
    );
    assert.equal(
      renameInHosts('127.0.1.1 old.a.test old other # own\n', { hostname: 'old', domainname: 'a.test' }, { hostname: 'new' }),
      '127.0.1.1\tnew other # own\n',
    );
  });

  it("puts the names on Debian's 127.0.1.1 line when no line named the box, or adds that line", () => {
    assert.equal(renameInHosts('127.0.0.1 localhost\n127.0.1.1 box\n', { hostname: 'named' }, { hostname: 'web' }), '127.0.0.1 localhost\n127.0.1.1\tweb\n');
    assert.equal(renameInHosts('127.0.0.1 localhost', { hostname: 'a' }, { hostname: 'b', domainname: 'c.d' }), '127.0.0.1 localhost\n127.0.1.1\tb.c.d b\n');
    assert.equal(renameInHosts('', { hostname: 'a' }, { hostname: 'b' }), '127.0.1.1\tb\n');
  });

  it('judges names as RFC 1123 labels within the 64 bytes of a utsname field', () => {
    for (const good of ['web', 'web-1', 'a.example.org', '1up', 'x'.repeat(63), `${'a'.repeat(31)}.${'b'.repeat(32)}`]) {
      assert.equal(dnsNameProblem(good), undefined, good);
    }
    assert.match(dnsNameProblem('not_a_name') ?? '', /label 'not_a_name' is not an RFC 1123 label/);
    assert.match(dnsNameProblem('-web') ?? '', /not starting or ending with a hyphen/);
    assert.match(dnsNameProblem('web-') ?? '', /RFC 1123/);
    assert.match(dnsNameProblem('a..b') ?? '', /empty label/);
    assert.match(dnsNameProblem('x'.repeat(65)) ?? '', /at most 64 characters/);
    assert.match(dnsNameProblem('x'.repeat(64)) ?? '', /label .* RFC 1123/, 'a label is at most 63');
    assert.match(dnsNameProblem('') ?? '', /empty/);
  });
});
