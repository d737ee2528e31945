/**
 * What the real-box suites share: a host with the isolation, limits and virtualisation plugins and the
 * Linux driver on a cgroup parent of the test's own, busybox boxes, and cleanup that
 * destroys the boxes and removes the cgroups.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyPlugin, Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { type ExecResult, execInBox, LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { buildBusyboxRootfs, type Cleanup, createTestHost, makeTempDir, removeCgroupsAfter } from '@nsbox/testkit';
import { virtualisationPlugin } from '../src/index.js';

export interface VirtTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  /** Creates and starts a busybox box (with /probe) whose init sleeps, with this config beside the rootfs. */
  box(name: string, config?: Record<string, unknown>): Promise<Box>;
  exec(name: string, script: string): Promise<ExecResult>;
  /** `/probe ARGS...` in the box, its KEY=VALUE lines as a record. */
  probe(name: string, ...args: string[]): Promise<Record<string, string>>;
  /** The box's pid of `nsbox-notify` (its shim's child), if one runs. */
  notifyPid(name: string): number | undefined;
}

export async function openVirtHost(cleanup: Cleanup): Promise<VirtTestHost> {
  const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    // As a host has them: isolation's user namespace and seccomp profile around the handoff.
    plugins: [isolationPlugin as AnyPlugin, limitsPlugin, virtualisationPlugin],
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  cleanup.add('destroy boxes', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  });
  const driver = host.driver as LinuxBoxDriver;
  const probe = compileProbe(makeTempDir(cleanup, 'probe'));
  return {
    host,
    driver,
    async box(name, config = {}) {
      const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
      // Cleanup runs last-in first-out: the box goes before its rootfs.
      cleanup.add(`destroy box ${name}`, async () => {
        if (host.store.db.open) await host.manager.destroy(name, { force: true }).catch(() => undefined);
      });
      copyFileSync(probe, join(rootfs, 'probe'));
      chmodSync(join(rootfs, 'probe'), 0o755);
      await host.manager.create({ name, config: { rootfs, process: { args: ['sleep', '100000'] }, ...config } });
      return host.manager.start(name);
    },
    async exec(name, script) {
      return execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] });
    },
    async probe(name, ...args) {
      const result = await execInBox(driver, host.manager.get(name), { args: ['/probe', ...args] });
      if (result.exitCode !== 0) throw new Error(`/probe ${args.join(' ')} in ${name} exited with ${result.exitCode}: ${result.stdout}${result.stderr}`);
      return Object.fromEntries(
        result.stdout
          .trim()
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
    },
    notifyPid(name) {
      const shim = (host.manager.get(name).runtime as LinuxRuntimeFacts).shim;
      if (!shim) return undefined;
      const children = `/proc/${shim.pid}/task/${shim.pid}/children`;
      if (!existsSync(children)) return undefined;
      for (const pid of readFileSync(children, 'utf8').split(/\s+/).filter(Boolean).map(Number)) {
        const exe = readFileSync(join('/proc', String(pid), 'comm'), 'utf8').trim();
        if (exe === 'nsbox-notify') return pid;
      }
      return undefined;
    },
  };
}

const probeSource = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'probe.c');

/** The probe, compiled static (it runs in a busybox rootfs, which has no libc). */
function compileProbe(dir: string): string {
  const out = join(dir, 'probe');
  execFileSync('gcc', ['-static', '-O1', '-o', out, probeSource], { stdio: 'pipe' });
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls (every `everyMs`) until check holds (true) or the time runs out (false). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
