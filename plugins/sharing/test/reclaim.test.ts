/**
 * Memory guarantees under pressure, on real boxes: the pressure is made inside the test's own
 * cgroup parent (its limit lowered below what its boxes use, so the kernel must reclaim there;
 * never the host's). Each box holds a working set of its own in the page cache (a file it wrote
 * and read twice, on the disk-backed temp dir: reclaimable without swap).
 *
 * - cgroup v2: a box with `memory.guarantee` (memory.low) or `memory.minimum` (memory.min) keeps
 *   its working set, while a neighbour without one is reclaimed.
 * - cgroup v1 has no such protection under a parent's limit: its soft limit is heeded only by
 *   the host's global reclaim (kswapd and direct reclaim of the whole machine call
 *   mem_cgroup_soft_limit_reclaim; a limit's reclaim does not). The v1 test shows what the
 *   kernel really does there: the soft limit is written and the box is reclaimed all the same.
 *   The v2 test runs in the VM lane (pure cgroup v2, vm/guest/suites*.txt).
 *
 * The boxes' cgroups are made by the host's driver: siblings under the test's parent with
 * cgroupfs; under systemd's (the default where systemd is PID 1 on cgroup2, the VM lane) each
 * box is a scope in the test's slice, its protection on the scope (the cgroup the box's
 * `fileDirs` name for memory.low), and the pressure is made on the slice.
 */

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { openSharingHost, type SharingTestHost } from './support.js';

const MiB = 2 ** 20;
const WORKING_SET_MIB = 32;
/** How far below the boxes' use the parent's limit goes: less than one working set, so the neighbour alone can give it. */
const SQUEEZE_MIB = 20;

describe('sharing: memory guarantees under pressure in the test’s own parent cgroup', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'memory reclaim on real cgroups');
  });

  beforeEach(async () => {
    t = await openSharingHost(cleanup);
  });

  const layout = () => t.driver.cgroups.layout;
  const memoryIsV1 = () => layout().v1.memory !== undefined;
  /**
   * The test's own parent cgroup in the hierarchy that serves memory: the parent of the cgroup
   * that holds the boxes' protection (the box's own with cgroupfs, its scope under systemd).
   */
  const parentDir = () => {
    const [first] = t.host.manager.list();
    const cgroup = t.driver.cgroups.get((first as { id: string }).id);
    return dirname((memoryIsV1() ? cgroup?.v1Dirs.memory : (cgroup?.fileDirs?.['memory.low'] ?? cgroup?.unifiedDir)) as string);
  };
  const limitFile = () => join(parentDir(), memoryIsV1() ? 'memory.limit_in_bytes' : 'memory.max');
  const usage = () => Number(readFileSync(join(parentDir(), memoryIsV1() ? 'memory.usage_in_bytes' : 'memory.current'), 'utf8'));
  const cached = (name: string) => t.driver.resources.stats({ id: t.host.manager.get(name).id })?.memory.file ?? 0;

  /** Starts a box that writes its working set and reads it twice (active in the page cache). */
  async function boxWithWorkingSet(name: string, sharing: Record<string, unknown> = {}): Promise<void> {
    await t.box(name, { sharing: { template: 'shared', ...sharing } });
    const made = await t.exec(
      name,
      `dd if=/dev/urandom of=/working-set bs=1M count=${WORKING_SET_MIB} 2>/dev/null && sync && cat /working-set /working-set > /dev/null && echo ok`,
    );
    assert.equal(made.stdout.trim(), 'ok', made.stderr);
  }

  /** Lowers the parent's limit below what its boxes use; returns each box's page cache before and after. */
  function squeeze(names: string[]): Record<string, { before: number; after: number }> {
    const before = Object.fromEntries(names.map((name) => [name, cached(name)]));
    for (const name of names)
      assert.ok(before[name] >= 0.9 * WORKING_SET_MIB * MiB, `${name} holds its working set before the pressure (${before[name]} bytes)`);
    const limit = usage() - SQUEEZE_MIB * MiB;
    writeFileSync(limitFile(), String(limit));
    assert.ok(usage() <= limit, 'the kernel reclaimed down to the parent’s new limit');
    return Object.fromEntries(names.map((name) => [name, { before: before[name] as number, after: cached(name) }]));
  }

  const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

  it('cgroup v2: boxes with a guarantee (memory.low) or a minimum (memory.min) keep their working set; a neighbour without is reclaimed', async function () {
    if (memoryIsV1()) this.skip(); // the v1 test below; this one runs in the VM lane
    await boxWithWorkingSet('guaranteed', { memory: { guarantee: '64M' } });
    await boxWithWorkingSet('floored', { memory: { minimum: '64M' } });
    await boxWithWorkingSet('neighbour');
    const figures = squeeze(['guaranteed', 'floored', 'neighbour']);
    console.log(
      `      v2 under the parent's limit: ${Object.entries(figures)
        .map(([name, { before, after }]) => `${name} ${mib(after)} of ${mib(before)}`)
        .join(', ')}`,
    );
    for (const name of ['guaranteed', 'floored']) {
      const { before, after } = figures[name] as { before: number; after: number };
      assert.ok(after >= 0.95 * before, `${name} kept its working set: ${mib(after)} of ${mib(before)}`);
    }
    const neighbour = figures.neighbour as { before: number; after: number };
    assert.ok(
      neighbour.before - neighbour.after >= (SQUEEZE_MIB / 2) * MiB,
      `the neighbour was reclaimed: ${mib(neighbour.after)} of ${mib(neighbour.before)}`,
    );
  });

  it('cgroup v1: the soft limit is written, but a parent’s limit reclaims the box all the same (soft-limit reclaim is the host’s global reclaim only)', async function () {
    if (!memoryIsV1()) this.skip(); // v2 has memory.low: the test above
    await boxWithWorkingSet('guaranteed', { memory: { guarantee: '64M' } });
    await boxWithWorkingSet('neighbour');
    assert.equal(Number(t.driver.cgroups.read(t.host.manager.get('guaranteed').id, 'memory', 'memory.soft_limit_in_bytes')), 64 * MiB);
    const figures = squeeze(['guaranteed', 'neighbour']);
    const lost = (name: string) => (figures[name]?.before as number) - (figures[name]?.after as number);
    console.log(
      `      v1 under the parent's limit: the box with a soft limit kept ${mib(figures.guaranteed?.after as number)}, its neighbour ${mib(figures.neighbour?.after as number)} (of ${WORKING_SET_MIB} MiB each)`,
    );
    assert.ok(lost('guaranteed') + lost('neighbour') >= SQUEEZE_MIB * MiB * 0.9, 'the squeeze reclaimed page cache');
    assert.ok(lost('guaranteed') >= 0.2 * lost('neighbour'), 'the soft limit did not spare the box: the kernel reclaims both under a parent’s limit');
    // What v1 cannot do at all is refused naming the field, nothing created.
    await assert.rejects(
      t.create('floored', { sharing: { template: 'shared', memory: { minimum: '64M' } } }),
      (error: NsboxError) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && (error.details as { field?: string }).field === 'sharing.memory.minimum',
    );
    assert.equal(t.host.manager.list().length, 2, 'nothing was created');
  });
});
