/**
 * The addon's in-process nft (libnftables), against the real kernel — only inside network
 * namespaces this suite makes (`ip netns add nsbt-…`), never the host's own tables.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isNftError, nft, nftJson } from '../lib/index.js';

describe('native nft (libnftables in process, in test namespaces)', function () {
  this.timeout(20_000);
  let names: string[];

  before(function () {
    if (process.getuid?.() !== 0) {
      if (process.env.NSBOX_REQUIRE_ROOT === '1') throw new Error('nft tests need root, and NSBOX_REQUIRE_ROOT=1 forbids skipping');
      console.log('  skipped: nft tests need root and the real kernel');
      this.skip();
    }
  });

  beforeEach(() => {
    names = [];
  });

  afterEach(() => {
    for (const name of names) execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  });

  function netns(): { name: string; path: string } {
    const name = `nsbt-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', name]);
    names.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  const listed = (ns: string) => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });

  it('runs text and JSON batches in the namespace named, as one transaction', () => {
    const [a, b] = [netns(), netns()];
    nft(a.path, 'add table inet nsbt\nadd chain inet nsbt c\nadd rule inet nsbt c counter');
    assert.match(listed(a.name), /table inet nsbt \{\s+chain c \{\s+counter packets 0 bytes 0/);
    assert.equal(listed(b.name).trim(), '', 'the other namespace is untouched');

    nftJson(b.path, { nftables: [{ add: { table: { family: 'bridge', name: 'nsbt' } } }] });
    assert.match(listed(b.name), /table bridge nsbt/);
    const tables = nftJson(b.path, { nftables: [{ list: { tables: null } }] })?.nftables ?? [];
    assert.deepEqual(
      tables.filter((entry) => entry.table).map((entry) => (entry.table as { family: string; name: string }).name),
      ['nsbt'],
    );

    // A batch with one bad command applies none of it, and says what nft said.
    assert.throws(
      () => nft(a.path, 'add chain inet nsbt d\nadd rule inet nsbt nochain counter'),
      (error: unknown) => isNftError(error) && /No such file or directory/.test(error.message),
    );
    assert.doesNotMatch(listed(a.name), /chain d/, 'the transaction was all or nothing');
  });

  it('sees what another process changed, and a namespace made again at the same path', () => {
    const a = netns();
    nft(a.path, 'add table inet nsbt');
    execFileSync('ip', ['netns', 'exec', a.name, 'nft', 'add chain inet nsbt other']);
    assert.match(nft(a.path, 'list table inet nsbt'), /chain other/, 'no stale cache');
    execFileSync('ip', ['netns', 'exec', a.name, 'nft', 'delete table inet nsbt']);
    assert.throws(() => nft(a.path, 'add chain inet nsbt again'), isNftError);

    // The same path, a new namespace: the batch lands in the new one.
    execFileSync('ip', ['netns', 'del', a.name]);
    execFileSync('ip', ['netns', 'add', a.name]);
    nft(a.path, 'add table inet fresh');
    assert.match(listed(a.name), /table inet fresh/);
  });

  it('refuses a namespace it cannot enter with the errno', () => {
    assert.throws(
      () => nft('/run/netns/nsbt-missing-namespace', 'list tables'),
      (error: unknown) => (error as { code?: string }).code === 'ENOENT' && !isNftError(error),
    );
  });
});
