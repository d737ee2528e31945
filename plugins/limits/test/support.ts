/**
 * What the real-box suites share: a host with the limits plugin and the Linux driver on a
 * cgroup parent of the test's own, boxes from the busybox template, and cleanup that
 * destroys boxes, detaches any loop device of the test's images and removes the cgroups.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { type ExecResult, execInBox, LinuxBoxDriver, weightToShares } from '@nsbox/runtime';
import { parseCpuList } from '@nsbox/runtime-api';
import { type Cleanup, createTestHost, makeTempDir, removeCgroupsAfter } from '@nsbox/testkit';
import { limitsPlugin } from '../src/index.js';
import type { LimitsService } from '../src/limits-service.js';

export interface LimitsTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  limits: LimitsService;
  cgroupParent: string;
  /** Creates and starts a busybox box whose init sleeps (or runs `init`). */
  box(name: string, limits: Record<string, unknown> | undefined, init?: string[]): Promise<Box>;
  exec(name: string, script: string): Promise<ExecResult>;
  cgroup(name: string, controller: string, file: string): string;
}

/** Loop devices as 'device backing-file', only those backed by files under one of `dirs` when given (what a test made). */
export function loopDevices(...dirs: string[]): string[] {
  const all = execFileSync('losetup', ['-a', '-n', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort();
  if (dirs.length === 0) return all;
  return all.filter((line) => {
    const file = line.trim().split(/\s+/, 2)[1] ?? '';
    return dirs.some((dir) => file.startsWith(`${dir}/`));
  });
}

/** Detaches loop devices backed by files under dir (what a failed test may leave). */
export function detachLoopsUnder(dir: string): void {
  for (const line of loopDevices()) {
    const [device, file] = line.trim().split(/\s+/, 2);
    if (device && file?.startsWith(dir)) {
      for (const mount of execFileSync('findmnt', ['-n', '-o', 'TARGET', '-S', device], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
        execFileSync('umount', ['-l', mount]);
      }
      execFileSync('losetup', ['-d', device]);
    }
  }
}

export interface LimitsHostOptions {
  stateDir?: string;
  /** The admin's `settings.limits`, written into the state dir's host.json. */
  settings?: Record<string, unknown>;
}

export async function openLimitsHost(cleanup: Cleanup, options: LimitsHostOptions = {}): Promise<LimitsTestHost> {
  const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  let stateDir = options.stateDir;
  if (options.settings) {
    stateDir ??= makeTempDir(cleanup, 'state');
    writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { limits: options.settings } }));
  }
  removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    plugins: [limitsPlugin],
    ...(stateDir ? { stateDir } : {}),
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  cleanup.add('destroy boxes and detach their loop devices', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    if (existsSync(host.stateDir)) detachLoopsUnder(host.stateDir);
  });
  const driver = host.driver as LinuxBoxDriver;
  const limits = host.plugins.service<LimitsService>('limits', 'limits');
  return {
    host,
    driver,
    limits,
    cgroupParent,
    async box(name, section, init = ['sleep', '100000']) {
      await host.manager.create({ name, config: { template: 'busybox', process: { args: init }, ...(section ? { limits: section } : {}) } });
      return host.manager.start(name);
    },
    async exec(name, script) {
      return execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] });
    },
    cgroup(name, controller, file) {
      return driver.cgroups.read(host.manager.get(name).id, controller, file).trim();
    },
  };
}

/**
 * The CPUs a box of this host may run on: the cpuset of the test's cgroup parent where the
 * host has a v1 cpuset (a box cannot leave it), else the CPUs online.
 */
export function boxCpus(t: LimitsTestHost): number[] {
  const cpuset = t.driver.cgroups.layout.v1['cpuset'];
  const candidates = cpuset ? [join(cpuset, t.cgroupParent, 'cpuset.cpus'), join(cpuset, 'cpuset.cpus')] : [];
  const file = [...candidates, '/sys/devices/system/cpu/online'].find((path) => existsSync(path)) as string;
  return parseCpuList(readFileSync(file, 'utf8'));
}

/** Images in the state dir's default pool. */
export function poolImages(stateDir: string): string[] {
  const dir = join(stateDir, 'pools', 'default');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.img')) : [];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check holds (true) or the time runs out (false). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

export type KnobField = 'cpus' | 'cpuWeight' | 'memory' | 'memoryHigh' | 'swap' | 'memoryPeak';

export interface Knob {
  controller: string;
  file: string;
  /** The text the kernel shows for a value of the field (null: no limit). */
  text(value: number | null, memory?: number | null): string;
}

// v1's "no limit" for memory files: PAGE_COUNTER_MAX in bytes, rounded down to a page.
const V1_NO_MEMORY_LIMIT = '9223372036854771712';
const CFS_PERIOD_US = 100_000;

/**
 * Where a limit lives on this host's flavour of its controller, and how the kernel writes it:
 * v1 and v2 name and spell the same limit differently (cpu.cfs_quota_us -1 / cpu.max 'max
 * 100000'; v1's memsw is memory plus swap, v2's memory.swap.max is swap alone).
 */
export function knob(t: LimitsTestHost, field: KnobField): Knob {
  const controller = field === 'cpus' || field === 'cpuWeight' ? 'cpu' : 'memory';
  const v2 = t.driver.resources.host.flavor(controller) === 'v2';
  const bytes = (value: number | null) => (value === null ? (v2 ? 'max' : V1_NO_MEMORY_LIMIT) : String(value));
  switch (field) {
    case 'cpus':
      return v2
        ? { controller, file: 'cpu.max', text: (cpus) => `${cpus === null ? 'max' : Math.round(cpus * CFS_PERIOD_US)} ${CFS_PERIOD_US}` }
        : { controller, file: 'cpu.cfs_quota_us', text: (cpus) => (cpus === null ? '-1' : String(Math.round(cpus * CFS_PERIOD_US))) };
    case 'cpuWeight':
      return v2
        ? { controller, file: 'cpu.weight', text: (weight) => String(weight ?? 100) }
        : { controller, file: 'cpu.shares', text: (weight) => String(weightToShares(weight ?? 100)) };
    case 'memory':
      return { controller, file: v2 ? 'memory.max' : 'memory.limit_in_bytes', text: bytes };
    case 'memoryHigh':
      return { controller, file: v2 ? 'memory.high' : 'memory.soft_limit_in_bytes', text: bytes };
    case 'swap':
      return v2
        ? { controller, file: 'memory.swap.max', text: bytes }
        : { controller, file: 'memory.memsw.limit_in_bytes', text: (swap, memory) => bytes(swap === null || !memory ? null : memory + swap) };
    case 'memoryPeak':
      return { controller, file: v2 ? 'memory.peak' : 'memory.max_usage_in_bytes', text: bytes };
  }
}

/** The current text of a limit of box `name`, read where this host's flavour keeps it. */
export function readKnob(t: LimitsTestHost, name: string, field: KnobField): string {
  const { controller, file } = knob(t, field);
  return t.cgroup(name, controller, file);
}
