/** Shared by the benchmarks: timing, medians, OCI bundles for crun and runc. */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function timeRuns(runs: number, body: (index: number) => Promise<void> | void): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < runs; index++) {
    const start = process.hrtime.bigint();
    await body(index);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

export function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** An OCI bundle around a rootfs, from the runtime's own `spec` command, running argv. */
export function makeBundle(runtime: string, dir: string, rootfs: string, args: string[]): string {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'config.json'))) {
    const generated = spawnSync(runtime, ['spec'], { cwd: dir, encoding: 'utf8' });
    if (generated.status !== 0) throw new Error(`${runtime} spec failed: ${generated.stderr}`);
  }
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(spawnSync('cat', [configPath], { encoding: 'utf8' }).stdout);
  config.root = { path: rootfs, readonly: true };
  config.process.terminal = false;
  config.process.args = args;
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return dir;
}

export function printTable(rows: { name: string; medianMs?: number; note?: string }[], baseline?: number): void {
  for (const row of rows) {
    const ratio = baseline && row.medianMs !== undefined ? `  ${(row.medianMs / baseline).toFixed(2)}x crun` : '';
    const value = row.medianMs !== undefined ? `${row.medianMs.toFixed(1).padStart(8)} ms` : '       n/a';
    console.log(`${row.name.padEnd(34)}${value}${ratio}${row.note ? `  (${row.note})` : ''}`);
  }
}

/**
 * crun run of /bin/true, `runs` times: the anchor every start-up figure is compared with.
 * crun refuses this hybrid host ("cgroups in hybrid mode not supported") even with
 * --cgroup-manager=disabled. It runs in a private mount namespace of the benchmark's own
 * where the cgroup2 mount is detached: the host is not changed. The loop times crun itself,
 * from inside that namespace.
 */
export function timeCrun(work: string, rootfs: string, runs: number): { name: string; medianMs?: number; note?: string } {
  const crun = which('crun');
  if (!crun) return { name: 'crun run', note: 'not installed (npm run setup -- --bench)' };
  const bundle = makeBundle(crun, join(work, 'bundle-crun'), rootfs, ['/bin/true']);
  const script = `umount -l /sys/fs/cgroup/unified || exit 1
for i in $(seq ${runs}); do s=$(date +%s%N); ${crun} --root ${join(work, 'crun-state')} run --bundle ${bundle} crun-$i >/dev/null || exit 2; e=$(date +%s%N); echo $((e-s)); done`;
  const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
  if (result.status !== 0) return { name: 'crun run', note: `fails here: ${result.stderr.trim().split('\n')[0]}` };
  const times = result.stdout
    .trim()
    .split('\n')
    .map((ns) => Number(ns) / 1e6);
  return { name: 'crun run', medianMs: median(times), note: 'in a private mount ns without the cgroup2 mount' };
}
