import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import { bytePath, decodeQuoted, normalizeMemberPath, parseListLine } from './tar-listing.js';

describe('reading tar -tv listings', () => {
  it('parses each member type with its link target', () => {
    assert.deepEqual(parseListLine('drwxr-xr-x 0/0               0 2026-01-01 00:00 "./"'), { path: '', type: 'dir' });
    assert.deepEqual(parseListLine('-rw-r--r-- 1234/5678         3 2026-01-01 00:00 "./etc/x y"'), { path: 'etc/x y', type: 'file' });
    assert.deepEqual(parseListLine('lrwxrwxrwx 0/0               0 2026-01-01 00:00 "./evil" -> "/"'), { path: 'evil', type: 'symlink', link: '/' });
    assert.deepEqual(parseListLine('hrw-r--r-- 0/0               0 2026-01-01 00:00 "./b" link to "./a/c"'), {
      path: 'b',
      type: 'hardlink',
      link: 'a/c',
    });
    assert.deepEqual(parseListLine('crw-r--r-- 0/0             1,3 2026-01-01 00:00 "./dev/null"'), { path: 'dev/null', type: 'char' });
    assert.deepEqual(parseListLine('prw-r--r-- 0/0               0 2026-01-01 00:00 "fifo"'), { path: 'fifo', type: 'fifo' });
  });

  it('decodes C escapes into bytes, keeping names that are not UTF-8', () => {
    const { value } = decodeQuoted('"caf\\303\\251 \\"q\\" \\\\ \\n\\377"', 0);
    assert.deepEqual(Buffer.from(value, 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0x22, 0x71, 0x22, 0x20, 0x5c, 0x20, 0x0a, 0xff]));
    assert.deepEqual(bytePath('/r', value).subarray(0, 3), Buffer.from('/r/'));
    assert.equal(bytePath('/r', value).length, 3 + 14);
  });

  it('strips leading slashes and dots as GNU tar does, and refuses ".."', () => {
    assert.equal(normalizeMemberPath('//abs/./path/'), 'abs/path');
    assert.equal(normalizeMemberPath('./'), '');
    for (const bad of ['../x', 'a/../../x', 'a/..']) {
      assert.throws(
        () => normalizeMemberPath(bad),
        (error: NsboxError) => error.code === 'E_INVALID_ARGUMENT',
      );
    }
  });

  it('refuses member types it does not know and lines it cannot read', () => {
    assert.throws(
      () => parseListLine('V--------- 0/0 0 2026-01-01 00:00 "label"--Volume Header--'),
      (error: NsboxError) => error.code === 'E_UNSUPPORTED',
    );
    assert.throws(
      () => parseListLine('-rw-r--r-- 0/0 0 2026-01-01 00:00 no quotes'),
      (error: NsboxError) => error.code === 'E_RUNTIME',
    );
    assert.throws(
      () => parseListLine('lrwxrwxrwx 0/0 0 2026-01-01 00:00 "a" -> "b" trailing'),
      (error: NsboxError) => error.code === 'E_RUNTIME',
    );
  });
});
