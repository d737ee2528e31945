/**
 * `migration migrate` between two nsboxd on this machine (each its own state dir, socket and
 * cgroup parent): the running box moves with its id, name, config and memory and the freeze
 * is measured; a target that cannot take it is found out before anything stops; a target
 * that fails after the dump leaves nothing there, and the box runs on the source again.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { buildBusyboxRootfs, makeTempDir, runNsboxAsync } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import type { MigrateResult } from '../src/migrate-action.js';
import { countIn, countReaches, type DaemonHost, openDaemonHost, startCounterBox } from './hosts.js';
import { COUNTER, postcopySysctls, useCriuCleanup } from './support.js';

const plugins = [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, migrationPlugin as AnyPlugin];

describe('migration: nsbox migrate between two hosts', function () {
  this.timeout(180_000);
  const cleanup = useCriuCleanup();

  it('moves a running box: same id, name and config, its counter goes on there, nothing of it stays here', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    const original = await startCounterBox(cleanup, source, 'mig-move');
    const before = await countIn(source, 'mig-move');

    const moved = await source.action<MigrateResult>('migrate', { box: 'mig-move', to: target.socket, token: target.token });
    console.log(
      `      frozen ${moved.frozenMs} ms: dump ${moved.dumpMs} ms, copy ${moved.transferMs} ms (${moved.bytes} bytes), restore ${moved.restoreMs} ms`,
    );
    assert.equal(moved.state, 'running');
    assert.ok(moved.bytes > 100_000, 'the root and the images were sent');
    assert.ok(moved.frozenMs >= moved.dumpMs + moved.restoreMs, 'the freeze spans the dump, the copy and the restore');

    const arrived = await target.client.boxes.get('mig-move');
    assert.deepEqual([arrived.id, arrived.state], [original.id, 'running']);
    assert.deepEqual(arrived.config, original.config);
    const first = await countIn(target, 'mig-move');
    assert.ok(first >= before, `the counter came back at ${first}, it was ${before} before the move`);
    assert.ok((await countReaches(target, 'mig-move', first + 3, 10_000)) > first + 3, 'and goes on');

    await assert.rejects(source.client.boxes.get('mig-move'), (error: Error & { status?: number }) => error.status === 404);
    assert.equal(existsSync(`/sys/fs/cgroup/pids/${source.cgroupParent}/${original.id}`), false, "the source's cgroup is gone");
    assert.deepEqual(readdirSync(join(source.stateDir, 'migration', 'outgoing')), [], 'no archive left on the source');
    assert.deepEqual(readdirSync(join(target.stateDir, 'migration', 'incoming')), [], 'no upload left on the target');
    // The record kept a token minted for this migration, not the caller's, and it is revoked there now.
    const database = join(source.stateDir, 'plugins', 'migration');
    for (const file of readdirSync(database)) {
      assert.equal(readFileSync(join(database, file)).includes(target.token), false, `the caller's token is not in the source's ${file}`);
    }
    const minted = (await target.client.tokens.list()).filter((token) => token.name.startsWith('migration-'));
    assert.equal(minted.length, 1, 'one token was minted on the target for the migration');
    assert.ok(minted[0]?.revokedAt, 'and revoked once it was settled');
  });

  it('moves the memory post-copy when asked and both hosts can (the box runs there before it moved), stop-and-copy by default', async () => {
    postcopySysctls(cleanup);
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    // 8 MiB the init touched: the pages post-copy leaves out of the archive and stop-and-copy puts in.
    const held = 8 * 2 ** 20;
    await startCounterBox(cleanup, source, 'mig-lazy', { holdBytes: held });
    const before = await countIn(source, 'mig-lazy');

    const there = await source.action<MigrateResult>('migrate', { box: 'mig-lazy', to: target.socket, token: target.token, lazyPages: true });
    assert.match(there.precopyWhy, /post-copy: the memory moved after the box ran there/);
    assert.ok(there.postcopy && there.postcopy.pagesMs >= 0, 'the source waited for every page to be handed over');
    const first = await countIn(target, 'mig-lazy');
    assert.ok(first >= before, `its memory came along: the counter came back at ${first}, it was ${before}`);
    assert.ok((await countReaches(target, 'mig-lazy', first + 3, 10_000)) > first + 3, 'and goes on');
    await assert.rejects(source.client.boxes.get('mig-lazy'), (error: Error & { status?: number }) => error.status === 404);

    // Back, the memory in the archive: the same box sends more bytes, its pages among them.
    const back = await target.action<MigrateResult>('migrate', { box: 'mig-lazy', to: source.socket, token: source.token });
    assert.equal(back.postcopy, undefined);
    assert.match(back.precopyWhy, /stop-and-copy: post-copy not asked for/);
    assert.ok(back.bytes - there.bytes > held / 2, `stop-and-copy sent ${back.bytes} bytes, post-copy's archive ${there.bytes}`);
    const again = await countIn(source, 'mig-lazy');
    assert.ok(again >= first, `the counter came back at ${again}, it was ${first} there`);
  });

  it('checks the target before anything stops: a name taken there, no nsboxd there, a bad token', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    await startCounterBox(cleanup, source, 'mig-stay');
    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    await (await target.client.boxes.create({ name: 'mig-stay', config: { rootfs } })).wait();

    await assert.rejects(source.action('migrate', { box: 'mig-stay', to: target.socket, token: target.token }), /has a box 'mig-stay' already/);
    await assert.rejects(source.action('migrate', { box: 'mig-stay', to: join(target.stateDir, 'none.sock'), token: 'x' }), /cannot reach nsboxd/);
    await assert.rejects(source.action('migrate', { box: 'mig-stay', to: target.socket, token: 'not-a-token' }), /cannot reach nsboxd|token|unauthori/i);
    await assert.rejects(
      source.action('migrate', { box: 'mig-stay', to: 'target:1', token: 'x' }),
      (error: Error & { field?: string }) => error.field === 'to',
    );
    // A target without the limits plugin could not take the box's `limits` section.
    const bare = await openDaemonHost(cleanup, [isolationPlugin as AnyPlugin, migrationPlugin as AnyPlugin]);
    await assert.rejects(source.action('migrate', { box: 'mig-stay', to: bare.socket, token: bare.token }), /no plugin for the box's limits section/);
    const box = await source.client.boxes.get('mig-stay');
    assert.equal(box.state, 'running');
    const now = await countIn(source, 'mig-stay');
    assert.ok((await countReaches(source, 'mig-stay', now, 5_000)) > now, 'it never stopped');
  });

  it('brings the box back on the source when the target fails after the dump, and leaves nothing there', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    // An I/O failure on the target once the box is dumped: its upload directory is a file.
    mkdirSync(join(target.stateDir, 'migration'), { recursive: true, mode: 0o700 });
    rmSync(join(target.stateDir, 'migration', 'incoming'), { recursive: true, force: true });
    writeFileSync(join(target.stateDir, 'migration', 'incoming'), 'not a directory');
    const original = await startCounterBox(cleanup, source, 'mig-back');
    const before = await countIn(source, 'mig-back');

    await assert.rejects(source.action('migrate', { box: 'mig-back', to: target.socket, token: target.token }), /failed: .*; it runs here again/s);
    const box = await source.client.boxes.get('mig-back');
    assert.deepEqual([box.id, box.state], [original.id, 'running']);
    const first = await countIn(source, 'mig-back');
    assert.ok(first >= before, `restored from the dump (${first} ≥ ${before})`);
    assert.ok((await countReaches(source, 'mig-back', first + 2, 10_000)) > first + 2, 'and counting');
    assert.deepEqual(await target.client.boxes.list(), [], 'nothing on the target');
    assert.deepEqual(readdirSync(join(source.stateDir, 'migration', 'outgoing')), [], 'no archive left on the source');
  });
});

describe('migration: --fallback cold after a failed live attempt', function () {
  this.timeout(240_000);
  const cleanup = useCriuCleanup();

  /**
   * A box criu cannot dump: its init holds a deleted file larger than criu's ghost-file limit
   * (1 MiB by default: `Can't dump ghost file ... increase limit`); the dump fails and the box
   * goes on running.
   */
  async function startUndumpableBox(host: DaemonHost, name: string) {
    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    const init = `dd if=/dev/zero of=/ghost bs=1M count=2 2>/dev/null; exec 3</ghost; rm /ghost; ${COUNTER}`;
    await (await host.client.boxes.create({ name, config: { rootfs, process: { args: ['sh', '-c', init] }, limits: { pids: 64 } } })).wait();
    cleanup.add(`destroy box ${name}`, () => host.client.boxes.destroy(name, { force: true }).catch(() => undefined));
    await host.client.boxes.start(name);
    assert.ok((await countReaches(host, name, 4, 10_000)) > 4, 'the counter runs');
  }

  it('without it the box stays running on the source; with it the box is stopped, copied and started on the target', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    await startUndumpableBox(source, 'mig-cold');

    await assert.rejects(
      source.action('migrate', { box: 'mig-cold', to: target.socket, token: target.token }),
      /criu dump of box 'mig-cold' failed: .*ghost.*; it runs here again/s,
    );
    assert.equal((await source.client.boxes.get('mig-cold')).state, 'running');
    const now = await countIn(source, 'mig-cold');
    assert.ok((await countReaches(source, 'mig-cold', now + 2, 10_000)) > now + 2, 'it never stopped');
    assert.deepEqual(await target.client.boxes.list(), [], 'nothing on the target');

    const before = await countIn(source, 'mig-cold');
    const moved = await source.action<MigrateResult>('migrate', { box: 'mig-cold', to: target.socket, token: target.token, fallback: 'cold' });
    assert.equal(moved.mode, 'cold');
    assert.match(moved.fallbackFrom ?? '', /criu dump of box 'mig-cold' failed/);
    assert.equal((await target.client.boxes.get('mig-cold')).state, 'running');
    await assert.rejects(source.client.boxes.get('mig-cold'), (error: Error & { status?: number }) => error.status === 404);
    // Started again, not restored: its counter began anew there.
    const first = await countIn(target, 'mig-cold');
    assert.ok((await countReaches(target, 'mig-cold', first + 2, 10_000)) > first + 2, 'it runs there');
    assert.ok(first < before, `the counter started again (${first} there, ${before} here before)`);
  });
});

describe('migration: progress and cancel', function () {
  this.timeout(240_000);
  const cleanup = useCriuCleanup();

  it('reports each phase and the bytes sent through the API operation, and the CLI shows them on a progress line', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    await startCounterBox(cleanup, source, 'mig-progress');
    const seen: { step: string; percent?: number; message?: string }[] = [];
    const moved = await source.client.actions.run<MigrateResult>(
      'migration',
      'migrate',
      { box: 'mig-progress', to: target.socket, token: target.token },
      { onProgress: (progress) => seen.push(progress) },
    );
    assert.equal(moved.state, 'running');
    const steps = seen.map((progress) => progress.step).filter((step, index, all) => all[index - 1] !== step);
    for (const phase of ['preflight', 'dump', 'transfer', 'restore', 'commit', 'destroy']) assert.ok(steps.includes(phase), `${phase} in ${steps.join(', ')}`);
    assert.ok(steps.indexOf('dump') < steps.indexOf('transfer') && steps.indexOf('transfer') < steps.indexOf('commit'), steps.join(', '));
    const last = seen.filter((progress) => progress.step === 'transfer' && progress.percent !== undefined).at(-1);
    assert.equal(last?.percent, 100);
    assert.equal(last?.message, `sent ${moved.bytes} of ${moved.bytes} bytes`);

    // Back again, with the CLI through the target's nsboxd: its progress line names the phases.
    // (nsboxd got its plugins in code; the CLI learns its commands from the host config.)
    writeFileSync(
      join(target.stateDir, 'host.json'),
      JSON.stringify({ discover: false, plugins: ['@nsbox/plugin-isolation', '@nsbox/plugin-limits', '@nsbox/plugin-migration'] }),
    );
    const cli = await runNsboxAsync(['migrate', 'mig-progress', '--to', source.socket, '--token', source.token], {
      stateDir: target.stateDir,
      timeoutMs: 180_000,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /box mig-progress migrated to /);
    assert.match(cli.stderr, /migrate: preflight > dump > checkpoint > transfer .*\[#{20}\] 100% sent \d+ of \d+ bytes/);
    assert.match(cli.stderr, /> commit > destroy/);
    assert.equal((await source.client.boxes.get('mig-progress')).state, 'running');
  });

  it('a cancel before the switch leaves the box running on the source, and nothing on the target', async () => {
    const source = await openDaemonHost(cleanup, plugins);
    const target = await openDaemonHost(cleanup, plugins);
    const original = await startCounterBox(cleanup, source, 'mig-cancel');
    const before = await countIn(source, 'mig-cancel');
    const controller = new AbortController();
    await assert.rejects(
      source.client.actions.run(
        'migration',
        'migrate',
        { box: 'mig-cancel', to: target.socket, token: target.token },
        { signal: controller.signal, onProgress: (progress) => progress.step === 'transfer' && controller.abort() },
      ),
      (error: Error & { code?: string }) => error.code === 'E_CANCELLED' && /cancelled; it runs here again/.test(error.message),
    );
    const box = await source.client.boxes.get('mig-cancel');
    assert.deepEqual([box.id, box.state], [original.id, 'running']);
    const first = await countIn(source, 'mig-cancel');
    assert.ok(first >= before, `restored from its dump (${first} ≥ ${before})`);
    assert.ok((await countReaches(source, 'mig-cancel', first + 2, 10_000)) > first + 2, 'and counting');
    assert.deepEqual(await target.client.boxes.list(), [], 'nothing on the target');
  });
});
