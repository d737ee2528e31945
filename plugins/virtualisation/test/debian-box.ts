/**
 * A debian-12 box for the boot suites: the built-in template is built once per machine into a
 * cache the suites share (debootstrap takes minutes; NSBOX_TEST_TEMPLATE_CACHE moves it), each
 * box gets its own copy, and systemd's state is read from inside through exec.
 */

import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import { execInBox, type LinuxBoxDriver, materializeTemplate } from '@nsbox/runtime';
import { type Cleanup, makeTempDir } from '@nsbox/testkit';

export const TEMPLATE_CACHE = process.env.NSBOX_TEST_TEMPLATE_CACHE ?? '/var/tmp/nsbox-test-templates';

/** A fresh copy of the debian-12 template (built into the shared cache the first time). */
export async function debianRootfs(cleanup: Cleanup): Promise<string> {
  const made = await materializeTemplate('debian-12', join(makeTempDir(cleanup, 'debian'), 'rootfs'), { cacheDir: TEMPLATE_CACHE });
  return made.rootfs;
}

export async function run(driver: LinuxBoxDriver, box: Box, script: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return execInBox(driver, box, { args: ['sh', '-c', script] });
}

/**
 * Waits until systemd answers `systemctl is-system-running` with a settled state (running,
 * degraded, ...) and returns it, with the milliseconds since `since`. Polls: `--wait` needs the
 * bus, which comes up partway through the boot.
 */
export async function systemState(driver: LinuxBoxDriver, box: () => Box, since: number, timeoutMs = 60_000): Promise<{ state: string; ms: number }> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  // What the last poll saw besides the state: an exec that failed, systemctl's own words.
  let last = '';
  while (Date.now() < deadline) {
    const polled = await run(driver, box(), 'systemctl is-system-running').then(
      (result) => ({ ...result, failure: '' }),
      (error: Error) => ({ exitCode: -1, stdout: '', stderr: '', failure: error.message }),
    );
    state = polled.stdout.trim();
    last = polled.failure ? `exec failed: ${polled.failure}` : `exit ${polled.exitCode}, stderr: ${polled.stderr.trim()}`;
    if (state && !['initializing', 'starting'].includes(state)) return { state, ms: Date.now() - since };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`systemd did not settle in ${timeoutMs} ms (last: '${state}'; ${last})`);
}
