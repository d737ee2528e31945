/**
 * The migration plugin, side by side in one run (issue 18's figures):
 *   - checkpoint + restore of a tiny busybox box through nsbox (the BoxManager's operations,
 *     every plugin hook, the engine's criu calls) against criu's own time in those calls on
 *     the same box (the dump's call, and the restore script's criu call as it times it), and
 *     against the same busybox counter in a pid, uts and ipc namespace (no mount namespace, no
 *     root of its own) with two raw criu calls (`dump`, `restore -d`): medians and ratios;
 *   - a live migration of a box with 200 MB of touched memory between two nsboxd, each a child
 *     process in a network namespace of the bench's own, the archive going over a veth pair
 *     between them (HTTP): total time, frozen time, bytes sent, and the downtime an observer
 *     sees — the longest gap between two advances of the box's 10 ms heartbeat (a counter in
 *     a file of its root, read every 5 ms on whichever host has the box);
 *     — post-copy (criu lazy pages: the box runs on the target before its memory moved) and
 *     stop-and-copy (the default: every page in the archive, frozen meanwhile), bytes
 *     counted on the source's end of the veth (the archive's HTTP and criu's page server);
 *   - the same box migrated cold (`--cold`: stopped, copied, started) for comparison.
 *   npm run bench:migration -- [runs] [migrations]
 */

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver } from '@nsbox/runtime';
import { Cleanup } from '@nsbox/testkit';
import { LAZY_PIPE_BYTES, PIPE_MAX_SIZE, UNPRIVILEGED_UFFD } from '../plugins/migration/src/criu-check.js';
import { RESTORE_MS } from '../plugins/migration/src/criu-engine.js';
import { criuPrefix, findCriu, migrationPlugin } from '../plugins/migration/src/index.js';
import type { MigrateResult } from '../plugins/migration/src/migrate-action.js';
import { spawnDaemonHost } from '../plugins/migration/test/daemons.js';
import { median } from './bench-support.js';

const runs = Number(process.argv[2] ?? 7);
const tag = randomBytes(3).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-mig-'));
const cleanup = new Cleanup();
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /count; usleep 10000; done';
const lookup = findCriu(criuPrefix());
if (!lookup.found) throw new Error(`criu is not installed: ${lookup.reason}`);
const criu = lookup.install;

function rawCriu(args: string[]): void {
  execFileSync(criu.file, [...criu.args, ...args], { env: { ...process.env, CRIU_FAULT: '130' }, stdio: 'ignore' });
}

/** The same tiny box's processes without nsbox: the counter, a session leader in its own pid, uts and ipc namespaces. */
async function rawRound(index: number): Promise<number> {
  const dir = join(work, `raw-${index}`);
  mkdirSync(join(dir, 'images'), { recursive: true });
  const script = COUNTER.replace('/count', join(dir, 'count'));
  const child = spawn('unshare', ['--fork', '--pid', '--uts', '--ipc', 'setsid', 'busybox', 'sh', '-c', script], { stdio: 'ignore' });
  cleanup.add(`kill raw ${index}`, () => child.kill('SIGKILL'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const leader = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n')[0] as string;
  const started = performance.now();
  rawCriu(['dump', '--tree', leader, '--images-dir', join(dir, 'images'), '--log-file', join(dir, 'dump.log'), '-v2']);
  rawCriu(['restore', '--restore-detached', '--images-dir', join(dir, 'images'), '--log-file', join(dir, 'restore.log'), '-v2', '--pidfile', join(dir, 'pid')]);
  const took = performance.now() - started;
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  return took;
}

async function checkpointRestore(): Promise<void> {
  const cgroupParent = `nsbox-bench-${tag}`;
  const stateDir = join(work, 'host');
  mkdirSync(stateDir);
  const host = await openHost({
    stateDir,
    discover: false,
    plugins: [migrationPlugin as AnyPlugin],
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  cleanup.add('close the host', async () => {
    for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    host.close();
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
  const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
  const nsbox: number[] = [];
  const checkpoints: number[] = [];
  const criuDumps: number[] = [];
  const criuRestores: number[] = [];
  const raw: number[] = [];
  for (let index = 0; index < runs; index++) {
    const name = `bench-${index}`;
    await host.manager.create({ name, config: { rootfs, process: { args: ['sh', '-c', COUNTER] } } });
    await host.manager.start(name);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const imageDir = join(work, `images-${index}`);
    const started = performance.now();
    const saved = await host.manager.checkpoint(name, { imageDir });
    checkpoints.push(performance.now() - started);
    criuDumps.push((saved.runtime.checkpoint as { dumpMs: number }).dumpMs);
    const restored = await host.manager.restore(name, { imageDir });
    nsbox.push(performance.now() - started);
    criuRestores.push(Number(readFileSync(join(stateDir, 'boxes', restored.id, RESTORE_MS), 'utf8')));
    await host.manager.destroy(name, { force: true });
    raw.push(await rawRound(index));
  }
  const [ours, theirs] = [median(nsbox), median(raw)];
  console.log(`checkpoint + restore of a tiny box, median of ${runs}:`);
  console.log(`  nsbox (checkpoint, restore operations)   ${ours.toFixed(0)} ms`);
  console.log(
    `    of which checkpoint ${median(checkpoints).toFixed(0)} ms (its criu dump ${median(criuDumps).toFixed(0)} ms), restore ${(ours - median(checkpoints)).toFixed(0)} ms`,
  );
  const criuOwn = median(criuDumps.map((dump, index) => dump + (criuRestores[index] ?? 0)));
  console.log(`  criu's own calls within those (same box) ${criuOwn.toFixed(0)} ms: nsbox / criu ${(ours / criuOwn).toFixed(2)}× (target ≤ 1.2×)`);
  console.log(`  raw criu dump + restore -d of the counter in pid/uts/ipc namespaces (no mount namespace, no root of its own) ${theirs.toFixed(0)} ms`);
  console.log(`  ratio to that lighter tree               ${(ours / theirs).toFixed(2)}×`);
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

/** Two namespaces joined by a veth pair: each nsboxd serves HTTP on its own address there. */
function twoHostsNetwork(): [string, string] {
  const names = [`nsbm-${tag}-a`, `nsbm-${tag}-b`] as const;
  for (const netns of names) {
    ip('netns', 'add', netns);
    cleanup.add(`delete netns ${netns}`, () => ip('netns', 'del', netns));
    ip('-n', netns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', names[0], 'link', 'add', `mb${tag}a`, 'type', 'veth', 'peer', 'name', `mb${tag}b`, 'netns', names[1]);
  ip('-n', names[0], 'addr', 'add', '10.251.0.1/24', 'dev', `mb${tag}a`);
  ip('-n', names[1], 'addr', 'add', '10.251.0.2/24', 'dev', `mb${tag}b`);
  ip('-n', names[0], 'link', 'set', `mb${tag}a`, 'up');
  ip('-n', names[1], 'link', 'set', `mb${tag}b`, 'up');
  return [names[0], names[1]];
}

/**
 * The longest wait between two advances of a box's heartbeat, read every 5 ms from whichever
 * root has it: an advance is any root's counter changing (a cold move starts it again from 0).
 */
function observe(files: () => string[]): { stop: () => number } {
  const seen = new Map<string, string>();
  let lastAt: number | undefined;
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    for (const file of files()) {
      let value: string;
      try {
        value = readFileSync(file, 'utf8').trim();
      } catch {
        continue; // not there (yet, or any more)
      }
      if (value === '' || seen.get(file) === value) continue;
      const first = !seen.has(file);
      seen.set(file, value);
      // A root's first reading is no advance (a cold copy may hold the last value of the source).
      if (first && seen.size > 1) continue;
      if (lastAt !== undefined) longest = Math.max(longest, now - lastAt);
      lastAt = now;
    }
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return longest;
    },
  };
}

/**
 * A host sysctl set for this run only, and put back by the cleanup: post-copy needs
 * vm.unprivileged_userfaultfd=1 (a box's restored tasks open their userfaultfd in its user
 * namespace) and fs.pipe-max-size ≥ 4 MiB (criu's page server's pipes), which nsbox never
 * sets itself.
 */
function sysctlForTheRun(file: string, value: string): void {
  const before = readFileSync(file, 'utf8').trim();
  if (before === value) return;
  writeFileSync(file, value);
  cleanup.add(`put ${file} back to ${before}`, () => writeFileSync(file, before));
  console.log(`  (${file} ${before} → ${value} for this run, put back after)`);
}

async function migrations(): Promise<void> {
  sysctlForTheRun(UNPRIVILEGED_UFFD, '1');
  if (Number(readFileSync(PIPE_MAX_SIZE, 'utf8')) < LAZY_PIPE_BYTES) sysctlForTheRun(PIPE_MAX_SIZE, String(LAZY_PIPE_BYTES));
  const [sideA, sideB] = twoHostsNetwork();
  const source = await spawnDaemonHost(cleanup, { netns: sideA, tcp: '10.251.0.1:7101' });
  const target = await spawnDaemonHost(cleanup, { netns: sideB, tcp: '10.251.0.2:7102' });
  const rootfs = buildBusyboxRootfs(join(work, 'rootfs-200'));
  // dd holds a 200 MB buffer it filled from /dev/zero (every page touched) while its write to a full pipe blocks.
  // It ends at SIGTERM, as a real init does (a cold move stops it).
  const init = `trap 'exit 0' TERM; dd if=/dev/zero bs=200M count=1 2>/dev/null | sleep 1000000 & ${COUNTER}`;
  const rootOf = async (host: typeof source) => {
    const box = await host.client.boxes.get('mig-200').catch(() => undefined);
    return (box?.runtime as { rootfs?: string } | undefined)?.rootfs ?? box?.config.rootfs;
  };
  const sentOnVeth = () => Number(JSON.parse(ip('-n', sideA, '-s', '-j', 'link', 'show', `mb${tag}a`))[0].stats64.tx.bytes);
  for (const mode of ['post-copy', 'stop-and-copy', 'cold'] as const) {
    await (await source.client.boxes.create({ name: 'mig-200', config: { rootfs, process: { args: ['sh', '-c', init] }, limits: { pids: 64 } } })).wait();
    await source.client.boxes.start('mig-200');
    // Until dd has its 200 MB.
    const box = await source.client.boxes.get('mig-200');
    const cgroup = `/sys/fs/cgroup/memory/${source.cgroupParent}/${box.id}/memory.usage_in_bytes`;
    for (let waited = 0; existsSync(cgroup) && Number(readFileSync(cgroup, 'utf8')) < 200e6 && waited < 30_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const memory = existsSync(cgroup) ? `${(Number(readFileSync(cgroup, 'utf8')) / 1e6).toFixed(0)} MB in its memory cgroup` : 'memory not read';
    const roots = [(await rootOf(source)) as string];
    const observer = observe(() => roots.map((root) => join(root, 'count')));
    const poller = setInterval(() => {
      void rootOf(target).then((root) => root && !roots.includes(root) && roots.push(root));
    }, 20);
    const sentBefore = sentOnVeth();
    const started = performance.now();
    const result = await source.client.actions.run<MigrateResult>('migration', 'migrate', {
      box: 'mig-200',
      to: 'http://10.251.0.2:7102',
      token: target.token,
      ...(mode === 'cold' ? { cold: true } : {}),
      ...(mode === 'post-copy' ? { lazyPages: true } : {}),
    });
    const total = performance.now() - started;
    const onVeth = sentOnVeth() - sentBefore;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(poller);
    const downtime = observer.stop();
    if (mode === 'post-copy' && !result.postcopy) console.log(`  (post-copy not available: ${result.precopyWhy})`);
    console.log(`${mode} migration of a box with 200 MB of touched memory (${memory}), over a veth between two nsboxd in their own netns:`);
    console.log(
      `  load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')} (1, 5, 15 min) on ${availableParallelism()} CPUs`,
    );
    console.log(
      `  total ${total.toFixed(0)} ms, frozen ${result.frozenMs} ms (dump/stop ${result.dumpMs}, copy ${result.transferMs}, restore/start ${result.restoreMs}), archive ${result.bytes} bytes, ${onVeth} bytes sent on the veth`,
    );
    if (result.postcopy) console.log(`  memory handed over ${result.postcopy.pagesMs} ms after the box ran there`);
    const parts = Object.entries(result.frozen)
      .map(([part, ms]) => `${part} ${ms}`)
      .join(', ');
    console.log(`  frozen time's parts (ms, each where it runs): ${parts}`);
    console.log(`  downtime seen by the observer: ${downtime.toFixed(0)} ms${mode === 'cold' ? ' (its counter starts again)' : ' (target ≤ 1500 ms)'}`);
    await target.client.boxes.destroy('mig-200', { force: true });
  }
}

try {
  // `migrations` as a second argument: only the moves between two nsboxd.
  if (process.argv[3] !== 'migrations') await checkpointRestore();
  await migrations();
} finally {
  await cleanup.run();
  rmSync(work, { recursive: true, force: true });
}
