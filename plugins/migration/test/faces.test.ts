/**
 * Checkpoint and restore through the faces: the real `nsbox` CLI (`nsbox checkpoint`,
 * `nsbox restore`, `nsbox migration check`) on a host without a user namespace, and nsboxd's
 * action routes through the SDK on a host with isolation's user namespace.
 */

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyPlugin } from '@nsbox/core';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { buildBusyboxRootfs, type CliRunOptions, cliCommands, makeCliHost, makeTempDir, useCleanup } from '@nsbox/testkit';
import { LAZY_PIPE_BYTES, PIPE_MAX_SIZE, UNPRIVILEGED_UFFD } from '../src/criu-check.js';
import { migrationPlugin } from '../src/index.js';
import { countIn, openDaemonHost } from './hosts.js';
import { COUNTER, requireCriu, waitFor } from './support.js';

const pluginEntry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');

/** Each test a CLI host of its own with the migration plugin (criu required); count reads a box's counter. */
function useMigrationCli() {
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireCriu(this);
  });

  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: [pluginEntry] });
  });

  const { nsbox, ok } = cliCommands(() => cli);
  const count = (box: string) => Number(ok('exec', box, 'cat', '/count').stdout.trim());
  return { cleanup, nsbox, ok, count };
}

describe('migration: nsbox checkpoint and restore (CLI)', function () {
  this.timeout(120_000);
  const { cleanup, nsbox, ok, count: countOf } = useMigrationCli();
  const count = () => countOf('cnt');

  it('says what criu there is, checkpoints, refuses bad input naming the field, and restores', async () => {
    const check = ok('--json', 'migration', 'check').json() as { installed: boolean; ok: boolean; version: string; verdict: string };
    assert.deepEqual([check.installed, check.ok, check.verdict], [true, true, 'Looks good.']);
    // Post-copy's verdict follows the host's sysctls (nsbox sets none of them), with the reason when not.
    const postcopy = check as unknown as { lazyPages: boolean; lazyPagesWhy?: string };
    const unprivileged = readFileSync(UNPRIVILEGED_UFFD, 'utf8').trim();
    assert.equal(postcopy.lazyPages, unprivileged === '1' && Number(readFileSync(PIPE_MAX_SIZE, 'utf8')) >= LAZY_PIPE_BYTES);
    if (unprivileged !== '1') assert.match(postcopy.lazyPagesWhy ?? '', new RegExp(`vm.unprivileged_userfaultfd is ${unprivileged}`));
    assert.match(check.version, /^4\./);

    ok('create', 'cnt', '--template', 'busybox', '--', 'sh', '-c', COUNTER);
    ok('start', 'cnt');
    assert.ok(await waitFor(() => count() >= 3, 10_000));

    const relative = nsbox('--json', 'checkpoint', 'cnt', '--to', 'images');
    assert.notEqual(relative.code, 0);
    assert.equal((JSON.parse(relative.stdout) as { error: { details: { field: string } } }).error.details.field, 'to');
    const full = join(makeTempDir(cleanup, 'full'), 'x');
    mkdirSync(full);
    writeFileSync(join(full, 'other'), 'not ours');
    assert.notEqual(nsbox('checkpoint', 'cnt', '--to', full).code, 0, 'a directory with files in it is refused');
    assert.equal((ok('--json', 'list').json() as { state: string }[])[0]?.state, 'running', 'nothing stopped on bad input');

    const saved = ok('--json', 'checkpoint', 'cnt').json() as { state: string; imageDir: string };
    assert.equal(saved.state, 'stopped');
    const restored = ok('--json', 'restore', 'cnt').json() as { state: string };
    assert.equal(restored.state, 'running');
    const after = count();
    assert.ok(await waitFor(() => count() > after, 10_000), 'the counter goes on');
    ok('stop', 'cnt');
    ok('destroy', 'cnt');
  });
});

describe('migration: nsbox export and import (CLI)', function () {
  this.timeout(180_000);
  const { cleanup, nsbox, ok, count } = useMigrationCli();

  it('exports a running box with --checkpoint and imports it under another name, counting on', async () => {
    ok('create', 'cnt', '--template', 'busybox', '--', 'sh', '-c', COUNTER);
    ok('start', 'cnt');
    assert.ok(await waitFor(() => count('cnt') >= 3, 10_000));
    const file = join(makeTempDir(cleanup, 'archive'), 'cnt.nsbox');
    const exported = ok('--json', 'export', 'cnt', file, '--checkpoint').json() as { checkpoint: boolean; bytes: number };
    assert.equal(exported.checkpoint, true);
    assert.notEqual(nsbox('export', 'cnt', file).code, 0, 'an archive that exists is not overwritten');
    const imported = ok('--json', 'import', file, '--name', 'cnt2', '--run').json() as { box: string; state: string; id: string };
    assert.deepEqual([imported.box, imported.state], ['cnt2', 'running']);
    const first = count('cnt2');
    assert.ok(first >= 3, `the copy's counter came back at ${first}`);
    assert.ok(await waitFor(() => count('cnt2') > first, 10_000), 'and goes on');
    assert.equal((ok('--json', 'list').json() as { name: string; state: string }[]).find((box) => box.name === 'cnt')?.state, 'stopped');
    ok('stop', 'cnt2');
  });
});

describe('migration: checkpoint and restore through nsboxd', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  it('runs both as API operations (the action routes) on a box with a user namespace', async () => {
    const host = await openDaemonHost(cleanup, [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, migrationPlugin as AnyPlugin]);
    const { client } = host;
    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    await (await client.boxes.create({ name: 'api-box', config: { rootfs, process: { args: ['sh', '-c', COUNTER] } } })).wait();
    await client.boxes.start('api-box');
    const count = () => countIn(host, 'api-box');
    const deadline = Date.now() + 10_000;
    while ((await count()) < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));

    const criu = (await client.host()).plugins.migration as { installed: boolean; ok: boolean; verdict: string };
    assert.deepEqual([criu.installed, criu.ok, criu.verdict], [true, true, 'Looks good.'], "GET /host has criu check's verdict");

    const saved = (await client.actions.run('migration', 'checkpoint', { box: 'api-box' })) as { state: string };
    assert.equal(saved.state, 'stopped');
    assert.equal((await client.boxes.get('api-box')).state, 'stopped');
    const restored = (await client.actions.run('migration', 'restore', { box: 'api-box' })) as { state: string };
    assert.equal(restored.state, 'running');
    const atRestore = await count();
    assert.ok(atRestore >= 3, `the counter came back at ${atRestore}, not 0`);
    let later = atRestore;
    for (const until = Date.now() + 10_000; later <= atRestore && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      later = await count();
    }
    assert.ok(later > atRestore, `and goes on (${atRestore} → ${later})`);
    assert.equal((await client.boxes.stop('api-box')).state, 'stopped');
  });
});
