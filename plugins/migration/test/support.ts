/**
 * What the real-box suites share: a host with the isolation, limits, virtualisation and
 * migration plugins and the Linux driver on a cgroup parent of the test's own, busybox boxes
 * whose init counts, and cleanup that destroys the boxes, removes the cgroups and kills any
 * criu the test left behind.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyPlugin, Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { trackingPlugin } from '@nsbox/plugin-tracking';
import { virtualisationPlugin } from '@nsbox/plugin-virtualisation';
import { execInBox, LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { buildBusyboxRootfs, type Cleanup, createTestHost, makeTempDir, removeCgroupsAfter, useCleanup } from '@nsbox/testkit';
import { LAZY_PIPE_BYTES, PIPE_MAX_SIZE, UNPRIVILEGED_UFFD } from '../src/criu-check.js';
import { criuPrefix, findCriu, migrationPlugin } from '../src/index.js';

/**
 * criu from the private prefix, installed by setup. Off root the suite skips with the reason;
 * without criu it fails — setup installs it — unless NSBOX_CRIU_UNAVAILABLE says why it cannot
 * be installed here (the VM guest has no network), and then it skips with that reason.
 * NSBOX_REQUIRE_ROOT=1 makes a skip off root a failure.
 */
export function requireCriu(context: Mocha.Context): void {
  const lookup = findCriu(criuPrefix());
  if (lookup.found && process.getuid?.() === 0) return;
  if (process.getuid?.() !== 0) {
    const reason = 'checkpoint/restore needs root and the real kernel';
    if (process.env.NSBOX_REQUIRE_ROOT === '1') throw new Error(`${reason}, and NSBOX_REQUIRE_ROOT=1 forbids skipping`);
    console.log(`  skipped: ${reason}`);
    context.skip();
  }
  const why = lookup.found ? '' : lookup.reason;
  const unavailable = process.env.NSBOX_CRIU_UNAVAILABLE;
  if (!unavailable) throw new Error(`criu is not installed (${why}); set NSBOX_CRIU_UNAVAILABLE=REASON where it cannot be`);
  console.log(`  skipped: criu is not installed here: ${unavailable}`);
  context.skip();
}

/** A suite's cleanup, and criu required before its tests (requireCriu). */
export function useCriuCleanup(): Cleanup {
  const cleanup = useCleanup();
  before(function () {
    requireCriu(this);
  });
  return cleanup;
}

/** The init of every test box: a counter in the shell's memory, shown on stdout and in /count. */
export const COUNTER = 'i=0; while true; do i=$((i+1)); echo "tick $i"; echo $i > /count; sleep 0.1; done';

export interface MigrationTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  /** Creates and starts a busybox box whose init is the counter. */
  box(name: string, config?: Record<string, unknown>): Promise<Box>;
  /** The counter's last value, read from the box's rootfs. */
  count(name: string): number;
  exec(name: string, script: string): Promise<string>;
}

/** criu processes started on images under this test's temp dirs: none may outlive the test. */
function killCriuLeftovers(marker: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(join('/proc', entry, 'cmdline'), 'utf8');
      if (cmdline.includes('criu') && cmdline.includes(marker)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

export async function openMigrationHost(cleanup: Cleanup, options: { virtualisation?: boolean; tracking?: boolean } = {}): Promise<MigrationTestHost> {
  const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    plugins: [
      isolationPlugin as AnyPlugin,
      limitsPlugin,
      ...(options.virtualisation ? [virtualisationPlugin] : []),
      ...(options.tracking ? [trackingPlugin as AnyPlugin] : []),
      migrationPlugin,
    ],
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  // Every criu of this test names the state dir (its images and logs live under it).
  cleanup.add('kill criu leftovers', () => killCriuLeftovers(host.stateDir));
  cleanup.add('destroy boxes', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  });
  const driver = host.driver as LinuxBoxDriver;
  return {
    host,
    driver,
    async box(name, config = {}) {
      const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
      cleanup.add(`destroy box ${name}`, async () => {
        if (host.store.db.open) await host.manager.destroy(name, { force: true }).catch(() => undefined);
      });
      await host.manager.create({ name, config: { rootfs, process: { args: ['sh', '-c', COUNTER] }, ...config } });
      return host.manager.start(name);
    },
    count(name) {
      const rootfs = (host.manager.get(name).runtime as LinuxRuntimeFacts).rootfs as string;
      const file = join(rootfs, 'count');
      return existsSync(file) ? Number(readFileSync(file, 'utf8').trim() || '0') : 0;
    },
    async exec(name, script) {
      const result = await execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] });
      if (result.exitCode !== 0) throw new Error(`${script} in ${name} exited with ${result.exitCode}: ${result.stdout}${result.stderr}`);
      return result.stdout;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check holds (true) or the time runs out (false). */
export async function waitFor(check: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Processes of the box's cgroup (every hierarchy it has), for leak checks. */
export function cgroupPids(driver: LinuxBoxDriver, box: Box): number[] {
  const cgroup = driver.cgroups.get(box.id);
  if (!cgroup) return [];
  return [...new Set(cgroup.procsFiles.flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [])))];
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A line-based TCP client in a network namespace of the test's (busybox nc), its answers collected. */
export interface LinePeer {
  child: ChildProcess;
  received: () => string;
  /** Sends the line (again, while no answer came) until the box echoed it; false when the time ran out. */
  echoes: (line: string, timeoutMs: number, everyMs: number) => Promise<boolean>;
}

/** Connects from netns to address:port; the cleanup kills the client. */
export function linePeer(cleanup: Cleanup, netns: string, address: string, port: number): LinePeer {
  const child = spawn('ip', ['netns', 'exec', netns, 'busybox', 'nc', address, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.add('stop the peer', () => child.kill('SIGKILL'));
  let received = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  const echoes = (line: string, timeoutMs: number, everyMs: number) =>
    waitFor(
      () => {
        if (received.includes(`${line}\n`)) return true;
        child.stdin?.write(`${line}\n`);
        return false;
      },
      timeoutMs,
      everyMs,
    );
  return { child, received: () => received, echoes };
}

/**
 * Post-copy's host sysctls (see criu-check.ts: nsbox sets none of them), set for one test and
 * put back by its cleanup.
 */
export function postcopySysctls(cleanup: Cleanup): void {
  for (const [file, value] of [
    [UNPRIVILEGED_UFFD, '1'],
    [PIPE_MAX_SIZE, String(LAZY_PIPE_BYTES)],
  ] as const) {
    const before = readFileSync(file, 'utf8').trim();
    if (file === PIPE_MAX_SIZE ? Number(before) >= LAZY_PIPE_BYTES : before === value) continue;
    writeFileSync(file, value);
    cleanup.add(`put ${file} back to ${before}`, () => writeFileSync(file, before));
  }
}
