/**
 * nsbox-runc against crun and runc, side by side in one run:
 *   1. `podman run --rm IMAGE /bin/true` with each runtime (podman state in a temp dir);
 *   2. `nsbox-runc run` against `crun run` on the same bundle.
 * crun refuses this hybrid host, so its rows run in a private mount namespace of the
 * benchmark's own where the cgroup2 mount is detached (the host is not changed).
 *   npm run bench:oci -- [runs]
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxRootfs } from '@nsbox/runtime';
import { podmanGlobalArgs, podmanRunArgs } from '../packages/oci/test/podman-args.js';
import { ensureNativeBuilt, removeCgroupParent, stopServer, writeWrapper } from '../packages/oci/test/runc-harness.js';
import { makeBundle, median, printTable, timeRuns, which } from './bench-support.js';

const runs = Number(process.argv[2] ?? 15);
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-oci-'));
const tag = `${process.pid}`;
const cgroupParent = `nsbox-bench-oci-${tag}`;
const runcRoot = join(work, 'nsbox-runc-root');
const wrapper = join(work, 'nsbox-runc');
const image = 'localhost/nsbox-bench-busybox:latest';
const rows: { name: string; medianMs?: number; note?: string }[] = [];

const podmanBase = podmanGlobalArgs(work);
const runArgs = podmanRunArgs(cgroupParent, [], image, ['/bin/true']);
const quote = (words: string[]) => words.map((word) => `'${word}'`).join(' ');

/** Times `runs` runs of a command line inside a mount namespace without the cgroup2 mount. */
function timeInPrivateNs(command: string[]): number[] | string {
  const script = `umount -l /sys/fs/cgroup/unified || exit 1
for i in $(seq ${runs}); do s=$(date +%s%N); ${quote(command)} >/dev/null 2>&1 || exit 2; e=$(date +%s%N); echo $((e-s)); done`;
  const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
  if (result.status !== 0) return result.stderr.trim().split('\n')[0] || `exit ${result.status}`;
  return result.stdout
    .trim()
    .split('\n')
    .map((ns) => Number(ns) / 1e6);
}

try {
  ensureNativeBuilt();
  const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
  writeWrapper(wrapper, runcRoot, cgroupParent);
  execFileSync('tar', ['-C', rootfs, '-cf', join(work, 'busybox.tar'), '.']);
  execFileSync('podman', [...podmanBase, 'import', join(work, 'busybox.tar'), image], { stdio: 'ignore' });

  // podman: nsbox-runc and runc from here (one warm-up run each: it starts the nsbox-runc server).
  for (const [name, runtime] of [
    ['podman + nsbox-runc', wrapper],
    ['podman + runc', which('runc')],
  ] as const) {
    if (!runtime) {
      rows.push({ name, note: 'not installed' });
      continue;
    }
    const once = spawnSync('podman', [...podmanBase, '--runtime', runtime, ...runArgs], { encoding: 'utf8' });
    if (once.status !== 0) {
      rows.push({ name, note: `fails here: ${once.stderr.trim().split('\n').at(-1)}` });
      continue;
    }
    const times = await timeRuns(runs, () => {
      const result = spawnSync('podman', [...podmanBase, '--runtime', runtime, ...runArgs], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`${name}: ${result.stderr}`);
    });
    rows.push({ name, medianMs: median(times) });
  }
  const crun = which('crun');
  const crunTimes = crun ? timeInPrivateNs(['podman', ...podmanBase, '--runtime', crun, ...runArgs]) : 'not installed';
  if (typeof crunTimes === 'string') rows.push({ name: 'podman + crun', note: crunTimes });
  else rows.push({ name: 'podman + crun', medianMs: median(crunTimes), note: 'in a private mount ns without the cgroup2 mount' });

  // The runtimes alone: run of /bin/true on one bundle (from crun's spec: crun 1.8 refuses ociVersion 1.2).
  const bundle = makeBundle(crun ?? wrapper, join(work, 'bundle'), rootfs, ['/bin/true']);
  // Ambient caps without inheritable ones cannot be raised (the nsbox launcher refuses, crun skips them).
  const configFile = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  delete config.process.capabilities?.ambient;
  writeFileSync(configFile, JSON.stringify(config));
  const direct = await timeRuns(runs, (index) => {
    const result = spawnSync(wrapper, ['run', '--bundle', bundle, `bench-${index}`], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`nsbox-runc run failed: ${result.stderr}`);
  });
  rows.push({ name: 'nsbox-runc run', medianMs: median(direct), note: 'resident server, native front' });
  if (crun) {
    const times = timeInPrivateNs([crun, '--root', join(work, 'crun-state'), 'run', '--bundle', bundle, 'crun-bench']);
    if (typeof times === 'string') rows.push({ name: 'crun run', note: times });
    else rows.push({ name: 'crun run', medianMs: median(times), note: 'in a private mount ns without the cgroup2 mount' });
  }

  console.log(`\npodman run --rm of /bin/true and runtime run, median of ${runs} runs\n`);
  const podmanCrun = rows.find((row) => row.name === 'podman + crun')?.medianMs;
  printTable(
    rows.filter((row) => row.name.startsWith('podman')),
    podmanCrun,
  );
  console.log('');
  printTable(
    rows.filter((row) => !row.name.startsWith('podman')),
    rows.find((row) => row.name === 'crun run')?.medianMs,
  );
} finally {
  spawnSync('podman', [...podmanBase, 'rm', '--all', '--force'], { stdio: 'ignore' });
  stopServer(runcRoot);
  await removeCgroupParent(cgroupParent).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
