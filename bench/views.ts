/**
 * Reading /proc/meminfo in a box, side by side in one run: the kernel's own file (a box with
 * the views off, and the host), the box's own view (its nsbox-proc-view), and lxcfs (Debian's
 * package, run here on a directory of our own, its meminfo bound into a box) — reads per
 * second of open/read/close for a few seconds each, and the host memory of what serves a
 * box's views and syscalls: one box's processes, then the mean over BOXES boxes with views
 * (shared code split between them, as on a host with many boxes).
 *   npm run bench:views -- [SECONDS] [BOXES]
 */

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { virtualisationPlugin } from '@nsbox/plugin-virtualisation';
import { buildBusyboxRootfs, createCgroupDriver, execInBox, LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { which } from './bench-support.js';

const seconds = Number(process.argv[2] ?? 3);
const boxes = Number(process.argv[3] ?? 20);
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-views-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const reader = join(work, 'view-reader');
execFileSync('gcc', [
  '-static',
  '-O2',
  '-o',
  reader,
  join(dirname(fileURLToPath(import.meta.url)), '..', 'plugins', 'virtualisation', 'test', 'fixtures', 'view-reader.c'),
]);

function parse(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
}

function smaps(pid: number): { rss: number; pss: number; private: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss'), private: field('Private_Clean') + field('Private_Dirty') };
}

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

// lxcfs on a directory of ours (never the host's /var/lib/lxcfs), stopped at the end.
const lxcfsBin = which('lxcfs');
const lxcfsDir = join(work, 'lxcfs');
mkdirSync(lxcfsDir);
const lxcfs = lxcfsBin ? spawn(lxcfsBin, ['-f', lxcfsDir], { stdio: 'ignore' }) : undefined;

const host = await openHost({
  stateDir: join(work, 'state'),
  discover: false,
  plugins: [isolationPlugin as AnyPlugin, limitsPlugin, virtualisationPlugin],
  driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
});
const driver = host.driver as LinuxBoxDriver;
try {
  for (let waited = 0; lxcfs && !existsSync(join(lxcfsDir, 'proc', 'meminfo')) && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  const bind = (source: string, destination: string) => ({ source, destination, options: ['ro'] });
  const box = async (name: string, views: boolean, extra: ReturnType<typeof bind>[] = []) => {
    await host.manager.create({
      name,
      config: {
        rootfs,
        process: { args: ['/bin/sleep', '100000'] },
        limits: { memory: '256M' },
        virtualisation: { procViews: views, kernelLog: views },
        isolation: { mounts: [bind(reader, '/view-reader'), ...extra] },
      },
    });
    await host.manager.start(name);
  };
  await box('views', true);
  await box('kernel', false);
  const haveLxcfs = lxcfs !== undefined && existsSync(join(lxcfsDir, 'proc', 'meminfo'));
  if (haveLxcfs) await box('lxcfs', false, [bind(join(lxcfsDir, 'proc', 'meminfo'), '/lxcfs-meminfo')]);

  const ms = String(seconds * 1000);
  const inBox = async (name: string, file: string) =>
    parse((await execInBox(driver, host.manager.get(name), { args: ['/view-reader', file, ms, 'MemTotal'] })).stdout);
  const rows: [string, Record<string, string>][] = [
    ['host: the kernel’s /proc/meminfo', parse(execFileSync(reader, ['/proc/meminfo', ms, 'MemTotal'], { encoding: 'utf8' }))],
    ['box, views off: the kernel’s file', await inBox('kernel', '/proc/meminfo')],
    ['box: its own view (nsbox-proc-view)', await inBox('views', '/proc/meminfo')],
  ];
  if (haveLxcfs) rows.push(['box: lxcfs’s meminfo (bound in)', await inBox('lxcfs', '/lxcfs-meminfo')]);
  const kernelRate = Number(rows[1]?.[1].reads) / seconds;
  console.log(`\nviews: open/read/close of /proc/meminfo for ${seconds} s each\n`);
  for (const [name, result] of rows) {
    const rate = Number(result.reads) / seconds;
    console.log(
      `${name.padEnd(40)}${rate.toFixed(0).padStart(9)} reads/s  ${(kernelRate / rate).toFixed(1).padStart(5)}x the kernel's time  slowest ${result.slowest} ms  failures ${result.failures}`,
    );
  }
  if (!haveLxcfs) console.log('lxcfs: not installed (npm run bench:views installs Debian’s lxcfs with setup --bench)');

  const shim = (host.manager.get('views').runtime as LinuxRuntimeFacts).shim?.pid as number;
  console.log('\nhost memory of what serves one box (kB):');
  for (const pid of [shim, ...childrenOf(shim)]) {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (!comm.startsWith('nsbox')) continue;
    const m = smaps(pid);
    console.log(`  ${comm.padEnd(18)} RSS ${String(m.rss).padStart(5)}  PSS ${String(m.pss).padStart(5)}  private ${String(m.private).padStart(5)}`);
  }
  if (haveLxcfs && lxcfs?.pid) {
    const m = smaps(lxcfs.pid);
    console.log(
      `  ${'lxcfs (host-wide)'.padEnd(18)} RSS ${String(m.rss).padStart(5)}  PSS ${String(m.pss).padStart(5)}  private ${String(m.private).padStart(5)}`,
    );
  }
  // Many boxes: what each costs the host in its own processes (shim, notify helper, views
  // server), PSS summed per box — the whole box's supervision, the issue's ≤ 1 MiB.
  for (let index = 1; index < boxes; index++) await box(`dense${index}`, true);
  await new Promise((r) => setTimeout(r, 1500));
  const perComm = new Map<string, { pss: number; private: number; count: number }>();
  let viewBoxes = 0;
  for (const listed of host.manager.list()) {
    if (listed.name !== 'views' && !listed.name.startsWith('dense')) continue;
    const boxShim = (listed.runtime as LinuxRuntimeFacts).shim?.pid;
    if (!boxShim) continue;
    viewBoxes++;
    for (const pid of [boxShim, ...childrenOf(boxShim)]) {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('nsbox')) continue;
      const m = smaps(pid);
      const sum = perComm.get(comm) ?? { pss: 0, private: 0, count: 0 };
      perComm.set(comm, { pss: sum.pss + m.pss, private: sum.private + m.private, count: sum.count + 1 });
    }
  }
  let total = 0;
  console.log(`\nhost memory per box, mean over ${viewBoxes} boxes with views (kB):`);
  for (const [comm, sum] of perComm) {
    total += sum.pss / viewBoxes;
    console.log(`  ${comm.padEnd(18)} PSS ${(sum.pss / viewBoxes).toFixed(0).padStart(5)}  private ${(sum.private / viewBoxes).toFixed(0).padStart(5)}`);
  }
  console.log(`  ${'the whole box'.padEnd(18)} PSS ${total.toFixed(0).padStart(5)}  (${(total / 1024).toFixed(2)} MiB)`);
} finally {
  for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  host.close();
  if (lxcfs?.pid) {
    lxcfs.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    spawn('umount', ['-l', lxcfsDir]).on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
  }
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
