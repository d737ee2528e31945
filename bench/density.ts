/**
 * Starts N idle boxes (default 200) and prints the host memory each one costs: the growth
 * of the host's used memory divided by N, and the shims' own RSS and PSS.
 *   npm run bench:density -- [N]
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHost } from '@nsbox/host';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';

const count = Number(process.argv[2] ?? 200);
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));

/** Used memory as `free` computes it: total - available, in KiB. */
function usedKiB(): number {
  const meminfo = Object.fromEntries(
    readFileSync('/proc/meminfo', 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [key, value] = line.split(':') as [string, string];
        return [key, Number.parseInt(value, 10)];
      }),
  );
  return meminfo.MemTotal - meminfo.MemAvailable;
}

function smapsRollup(pid: number): { rss: number; pss: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { rss: field('Rss'), pss: field('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

const host = await openHost({ stateDir: join(work, 'state'), discover: false, driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }) });
try {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = usedKiB();
  const started = Date.now();
  for (let index = 0; index < count; index++) {
    await host.manager.create({ name: `idle${index}`, config: { rootfs, process: { args: ['/bin/sleep', '100000'] } } });
    await host.manager.start(`idle${index}`);
  }
  const startSeconds = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = usedKiB();
  let shimRss = 0;
  let shimPss = 0;
  let initPss = 0;
  for (const box of host.manager.list()) {
    const runtime = box.runtime as LinuxRuntimeFacts;
    if (runtime.shim) {
      const shim = smapsRollup(runtime.shim.pid);
      shimRss += shim.rss;
      shimPss += shim.pss;
    }
    if (runtime.init) initPss += smapsRollup(runtime.init.pid).pss;
  }
  console.log(`\ndensity: ${count} idle boxes (busybox sleep as init), started in ${startSeconds.toFixed(1)} s\n`);
  console.log(`host memory per box (used growth / N):  ${((after - before) / count).toFixed(0)} KiB`);
  console.log(`shim RSS per box:                      ${(shimRss / count).toFixed(0)} KiB`);
  console.log(`shim PSS per box (shared pages split): ${(shimPss / count).toFixed(0)} KiB`);
  console.log(`box init PSS per box:                  ${(initPss / count).toFixed(0)} KiB`);
} finally {
  for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  host.close();
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
