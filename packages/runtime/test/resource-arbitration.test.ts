/**
 * Resource arbitration on real boxes: owners declare resources in different processes, the
 * runtime's cgroup manager merges them through the store, and a process killed between
 * storing its declaration and writing it is repaired by reconcile.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxRootfs, createTestHost, makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { createCgroupDriver } from '../src/cgroup/index.js';
import { LinuxBoxDriver } from '../src/linux-driver.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 2 ** 20;

describe('resource arbitration on real boxes', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let cgroupParent: string;
  let rootfs: string;

  before(function () {
    requireRoot(this, 'running boxes');
  });

  beforeEach(() => {
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
    rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    const parent = cgroupParent;
    cleanup.add('remove test cgroups', async () => {
      const cgroups = createCgroupDriver({ parent });
      for (const name of cgroups.list()) await cgroups.remove(name);
      cgroups.removeParent();
    });
  });

  async function runningBox() {
    const host = await createTestHost(cleanup, { plugins: [], driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }) });
    cleanup.add('destroy boxes', async () => {
      if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    });
    await host.manager.create({ name: 'arb', config: { rootfs, process: { args: ['/bin/sleep', '100000'] } } });
    const box = await host.manager.start('arb');
    const driver = host.driver as LinuxBoxDriver;
    const file = (controller: string, name: string) => driver.cgroups.read(box.id, controller, name).trim();
    return { host, box, driver, file };
  }

  it('repairs a declaration whose process was killed before writing it, at reconcile', async () => {
    const { host, box, driver, file } = await runningBox();
    driver.resources.apply(box, 'alpha', { memory: { max: 64 * MiB } });
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', join(here, 'fixtures/apply-crash.fixture.ts'), host.stateDir, cgroupParent, box.id],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(child.signal, 'SIGKILL', `the fixture dies at its first write: ${child.stderr}`);
    assert.equal(file('pids', 'pids.max'), 'max', "beta's pids limit never reached the kernel");
    assert.deepEqual(
      driver.resources.desired(box).declarations['beta'],
      { resources: { pids: { max: 77 }, memory: { max: 256 * MiB } } },
      'but its declaration was stored',
    );

    await host.manager.reconcile();
    assert.equal(file('pids', 'pids.max'), '77', 'reconcile wrote the whole merged plan');
    assert.equal(file('memory', 'memory.limit_in_bytes'), String(64 * MiB), "alpha's stricter memory limit holds over beta's");
    assert.equal(driver.resources.reconcile(box), undefined, 'nothing is pending any more');
    assert.deepEqual(driver.resources.apply(box, 'alpha', { memory: { max: 64 * MiB } }).written, [], 'and a later apply writes only what changes');
  });

  it('makes the next apply of any owner write every file after such a crash', async () => {
    const { host, box, driver, file } = await runningBox();
    driver.resources.apply(box, 'alpha', { memory: { max: 64 * MiB } });
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', join(here, 'fixtures/apply-crash.fixture.ts'), host.stateDir, cgroupParent, box.id],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const written = driver.resources.apply(box, 'alpha', { memory: { max: 32 * MiB } }).written.map((write) => `${write.file}=${write.value}`);
    assert.deepEqual(written.sort(), [`memory.limit_in_bytes=${32 * MiB}`, 'pids.max=77']);
    assert.equal(file('pids', 'pids.max'), '77');
  });

  it('forgets the declarations with the cgroup: a restart starts from what owners declare at configure', async () => {
    const { host, box, driver } = await runningBox();
    driver.resources.apply(box, 'alpha', { pids: { max: 50 } });
    await host.manager.stop('arb', { timeoutMs: 0 });
    assert.deepEqual(driver.resources.desired(box).declarations, {});
    assert.throws(() => driver.resources.apply(box, 'alpha', { pids: { max: 50 } }), /has no cgroup: resources are declared from the configure moment/);
    const restarted = await host.manager.start('arb');
    assert.equal(driver.cgroups.read(restarted.id, 'pids', 'pids.max').trim(), 'max');
  });
});
