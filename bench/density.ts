/**
 * Starts N idle boxes (default 200) and prints the host memory each one costs: the growth
 * of the host's used memory divided by the boxes running, the shims' own RSS and PSS, their
 * helpers' (nsbox-notify, nsbox-proc-view), the boxes' inits'. The figures are printed at
 * 10, 100 and 1,000 boxes (those up to N) and at N, with the time the last 10 starts took
 * there, so that a cost that grows faster than the number of boxes shows.
 *   npm run bench:density -- [N] [--plugins]
 * --plugins: every installed plugin on (discovered, as nsboxd loads them); without it the
 * runtime alone. A start that fails ends the run: the figures up to it are printed, and why.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHost } from '@nsbox/host';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';

const count = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 200);
const withPlugins = process.argv.includes('--plugins');
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const checkpoints = [...new Set([10, 100, 1000, count])].filter((at) => at <= count).sort((a, b) => a - b);

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

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const host = await openHost({
  stateDir: join(work, 'state'),
  discover: withPlugins,
  driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
});
const loaded = host.plugins.plugins.map((plugin) => plugin.definition.name);
console.log(`\ndensity: idle boxes (busybox sleep as init), plugins: ${loaded.join(', ') || 'none (the runtime alone)'}\n`);
console.log('boxes  started in  last 10 starts  host memory/box  shim RSS  shim PSS  helpers PSS  init PSS  (KiB per box)');
let failure: string | undefined;
try {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = usedKiB();
  const started = performance.now();
  let lastTen = started;
  let paused = 0; // the settling at each checkpoint is not start time
  for (let index = 0; index < count && !failure; index++) {
    if (index % 10 === 0) lastTen = performance.now();
    try {
      await host.manager.create({ name: `idle${index}`, config: { rootfs, process: { args: ['/bin/sleep', '100000'] } } });
      await host.manager.start(`idle${index}`);
    } catch (error) {
      failure = `box ${index + 1} did not start: ${(error as Error).message}`;
      break;
    }
    const running = index + 1;
    if (!checkpoints.includes(running)) continue;
    const lastTenMs = performance.now() - lastTen;
    const startSeconds = (performance.now() - started - paused) / 1000;
    const settle = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const grown = usedKiB() - before;
    let shimRss = 0;
    let shimPss = 0;
    let helperPss = 0;
    let initPss = 0;
    for (const box of host.manager.list()) {
      const runtime = box.runtime as LinuxRuntimeFacts;
      if (runtime.shim) {
        const shim = smapsRollup(runtime.shim.pid);
        shimRss += shim.rss;
        shimPss += shim.pss;
        for (const child of childrenOf(runtime.shim.pid)) if (child !== runtime.init?.pid) helperPss += smapsRollup(child).pss;
      }
      if (runtime.init) initPss += smapsRollup(runtime.init.pid).pss;
    }
    paused += performance.now() - settle;
    const per = (kib: number) => (kib / running).toFixed(0).padStart(8);
    console.log(
      `${String(running).padStart(5)}  ${`${startSeconds.toFixed(1)} s`.padStart(10)}  ${`${(lastTenMs / Math.min(10, running)).toFixed(1)} ms/box`.padStart(14)}  ${per(grown).padStart(15)}  ${per(shimRss)}  ${per(shimPss)}  ${per(helperPss).padStart(11)}  ${per(initPss)}`,
    );
  }
  if (failure) console.log(`\nstopped: ${failure}`);
} finally {
  for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  host.close();
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
