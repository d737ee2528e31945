/**
 * The network plugin, side by side in one run, inside network namespaces of the benchmark's
 * own (the host's interfaces, routes and nft tables are never touched):
 *   - what networking adds to a box start: median start time without the plugin, with it in
 *     mode none, and bridged (veth, addresses, routes, files, nft rules), the hosts taking turns;
 *     the median of each round's difference; and the time the plugin's wire hook took (the
 *     network's own work in a start, which the machine's noise in the rest does not blur),
 *     with its parts;
 *   - throughput box → host side through the veth and the bridge (TCP, busybox nc to a Node
 *     receiver, read on the kernel's byte counters) against a bare veth pair into a box
 *     without the plugin, measured the same way in alternating rounds;
 *   - starting N bridged boxes one after another (total, median, last) and destroying them.
 *   npm run bench:network -- [runs] [boxes]   (boxes 0: no third part)
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyPlugin, Box } from '@nsbox/core';
import { type NsboxHost, openHost } from '@nsbox/host';
import { listLinks, netlink } from '@nsbox/native';
import { buildBusyboxRootfs, createCgroupDriver, execInBox, LinuxBoxDriver } from '@nsbox/runtime';
import { runtimeFacts } from '@nsbox/runtime-api';
import { Cleanup } from '@nsbox/testkit';
import { BoxAddresses } from '../plugins/network/src/box-addresses.js';
import { BoxWiring } from '../plugins/network/src/box-wiring.js';
import { hostIdOf, hostLinkName, isHostLinkName, networkPlugin } from '../plugins/network/src/index.js';
import { RuleTables } from '../plugins/network/src/rule-tables.js';
import { measureRate, rateServer } from '../plugins/network/test/rate-meter.js';
import { median, timeRuns } from './bench-support.js';

const runs = Number(process.argv[2] ?? 20);
const boxes = Number(process.argv[3] ?? 200);
const tag = randomBytes(3).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-net-'));
const cgroupParent = `nsbox-bench-${tag}`;
const hostNs = `nsbb-${tag}-host`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const POOL = { name: 'bench', subnet: '10.240.0.0/16' };
const GATEWAY = '10.240.0.1';
const cleanup = new Cleanup();
/** One stream's length: more than a round sends at veth speed (the receiver is killed at its end). */
const STREAM_BYTES = 1e12;
const THROUGHPUT_ROUNDS = Number(process.env.NSBOX_BENCH_THROUGHPUT_ROUNDS ?? 11);
const THROUGHPUT_SECONDS = 2;

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

async function open(name: string, plugins: AnyPlugin[], defaultMode: string): Promise<NsboxHost> {
  const stateDir = join(work, name);
  execFileSync('mkdir', ['-p', stateDir]);
  const settings = { netns: `/run/netns/${hostNs}`, bridge: `nsbb${tag}`, defaultMode, pools: [POOL], nameservers: ['10.240.0.1'] };
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { network: settings } }));
  const host = await openHost({ stateDir, discover: false, plugins, driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }) });
  cleanup.add(`close ${name}`, async () => {
    for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    host.close();
  });
  return host;
}

/** How long each bridged start spent in the network plugin's wire hook (all its work on a start). */
const wireTimes: number[] = [];
/**
 * The CPU time this process spent in it (user + system, every thread: the netlink helper
 * threads' too): the work itself, which a loaded machine's wait for a CPU does not inflate.
 */
const wireCpuTimes: number[] = [];

/** The wire hook's parts (every host of the run shares the classes): the veth and its setup by netlink with the box's files, and the nft transaction. */
const partTimes: Record<'netlink' | 'nft' | 'claims', number[]> = { netlink: [], nft: [], claims: [] };
function timeMethod(prototype: object, method: string, into: number[]): void {
  const target = prototype as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method] as (...args: unknown[]) => unknown;
  target[method] = function (this: unknown, ...args: unknown[]) {
    const started = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      into.push(performance.now() - started);
    }
  };
}
timeMethod(BoxWiring.prototype, 'wire', partTimes.netlink);
timeMethod(RuleTables.prototype, 'wire', partTimes.nft);
timeMethod(BoxAddresses.prototype, 'assign', partTimes.claims);

/** The plugin with its wire hook timed, the rest as it is. */
function timedWire(plugin: AnyPlugin): AnyPlugin {
  type Setup = (env: unknown) => { hooks?: Record<string, (...args: unknown[]) => unknown> };
  const setup = plugin.setup as unknown as Setup;
  const timed: Setup = (env) => {
    const result = setup(env);
    const wire = result.hooks?.wire;
    if (result.hooks && wire) {
      result.hooks.wire = (...args) => {
        const started = performance.now();
        const cpu = process.cpuUsage();
        try {
          return wire(...args);
        } finally {
          wireTimes.push(performance.now() - started);
          const used = process.cpuUsage(cpu);
          wireCpuTimes.push((used.user + used.system) / 1000);
        }
      };
    }
    return result;
  };
  return { ...plugin, setup: timed } as unknown as AnyPlugin;
}

/**
 * Times of manager.start over `runs` start/stop rounds of one box per host. The hosts take
 * turns round by round, so that a busy moment of the machine weighs on each alike.
 */
async function startTimes(hosts: { host: NsboxHost; name: string }[]): Promise<number[][]> {
  for (const { host, name } of hosts) await host.manager.create({ name, config: { rootfs, process: { args: ['sleep', '100000'] } } });
  const times: number[][] = hosts.map(() => []);
  for (let index = 0; index < runs; index++) {
    for (const [which, { host, name }] of hosts.entries()) {
      const started = process.hrtime.bigint();
      await host.manager.start(name);
      times[which]?.push(Number(process.hrtime.bigint() - started) / 1e6);
      await host.manager.stop(name, { timeoutMs: 0 });
    }
  }
  for (const { host, name } of hosts) await host.manager.destroy(name, { force: true });
  return times;
}

try {
  ip('netns', 'add', hostNs);
  cleanup.add(`delete netns ${hostNs}`, () => ip('netns', 'del', hostNs));
  ip('-n', hostNs, 'link', 'set', 'lo', 'up');

  // 1. What networking adds to a start.
  const without = await open('without', [], 'none');
  const none = await open('none', [networkPlugin], 'none');
  const bridged = await open('bridged', [timedWire(networkPlugin)], 'bridge');
  const [plain = [], empty = [], wired = []] = await startTimes([
    { host: without, name: 'plain' },
    { host: none, name: 'empty' },
    { host: bridged, name: 'wired' },
  ]);
  const costs = { without: median(plain), none: median(empty), bridged: median(wired) };
  // Each round's bridged start against the start without the plugin just before it: the
  // machine's load, which moves the medians by more than the network costs, cancels out.
  const paired = median(wired.map((time, index) => time - (plain[index] ?? time)));
  // What holding the init for the wire moment costs by itself (mode none wires nothing).
  const held = median(empty.map((time, index) => time - (plain[index] ?? time)));
  console.log(`\nbox start (create once, then start/stop ${runs} times, the three hosts in turn; median of manager.start)\n`);
  console.log(`without the network plugin        ${costs.without.toFixed(1).padStart(8)} ms`);
  console.log(`plugin, mode none                 ${costs.none.toFixed(1).padStart(8)} ms`);
  console.log(
    `plugin, bridged                   ${costs.bridged.toFixed(1).padStart(8)} ms  (+${(costs.bridged - costs.without).toFixed(1)} ms for the network)`,
  );
  console.log(`bridged minus without, per round  ${paired.toFixed(1).padStart(8)} ms  (median of the ${runs} rounds' differences)`);
  console.log(`none minus without, per round     ${held.toFixed(1).padStart(8)} ms  (nothing to wire: the init is not held; the plugin's hooks alone)`);
  // The network's own work inside a bridged start, free of the machine's noise in the rest of it.
  console.log(
    `network setup in a bridged start   ${median(wireTimes).toFixed(1).padStart(7)} ms  (the plugin's wire hook: veth, addresses, routes, files, nft; median)`,
  );
  console.log(`  its CPU time                     ${median(wireCpuTimes).toFixed(1).padStart(7)} ms  (user + system of this process; median)`);
  console.log(
    `  of which veth, addresses, routes, files ${median(partTimes.netlink).toFixed(1)} ms, nft transaction ${median(partTimes.nft).toFixed(1)} ms, address claims ${median(partTimes.claims).toFixed(1)} ms (medians)`,
  );

  // 2. Throughput: a bridged box to a receiver in the host-side namespace, and a bare veth pair,
  // in alternating rounds with the same sender (the rootfs's busybox nc) and receiver.
  await bridged.manager.create({ name: 'sender', config: { rootfs, process: { args: ['sleep', '100000'] } } });
  const sender = await bridged.manager.start('sender');
  const link = hostLinkName(hostIdOf(bridged.store.pluginState), sender.id);
  // The bare pair's sender is a box too (of the host without the plugin): the same cgroup
  // placement, busybox and exec path, only the network between differs.
  await without.manager.create({ name: 'bare', config: { rootfs, process: { args: ['sleep', '100000'] } } });
  const bareBox = await without.manager.start('bare');
  const bareNetns = `/proc/${runtimeFacts(bareBox).init?.pid}/ns/net`;
  netlink(`/run/netns/${hostNs}`, [
    { op: 'veth-add', name: 'nsbb-v0', peer: 'eth0', peerNetns: bareNetns },
    { op: 'addr-add', dev: 'nsbb-v0', address: '10.241.0.1', prefix: 24 },
    { op: 'link-up', name: 'nsbb-v0' },
  ]);
  netlink(bareNetns, [
    { op: 'link-up', name: 'lo' },
    { op: 'addr-add', dev: 'eth0', address: '10.241.0.2', prefix: 24 },
    { op: 'link-up', name: 'eth0' },
  ]);
  const received = (name: string) => () => listLinks(`/run/netns/${hostNs}`).find((candidate) => candidate.name === name)?.rxBytes ?? 0;
  let port = 19_000;
  /** One stream for 1 + THROUGHPUT_SECONDS s; the receiver killed after, which ends the sender. */
  async function stream(send: () => { done: Promise<unknown> }, counter: () => number): Promise<number> {
    const server = await rateServer(cleanup, hostNs, ++port, 'receive', STREAM_BYTES);
    const { done } = send();
    const rate = await measureRate(counter, THROUGHPUT_SECONDS);
    server.kill('SIGKILL');
    await done.catch(() => undefined);
    return rate;
  }
  const sendFrom = (host: NsboxHost, box: Box, to: string) => () => ({
    done: execInBox(host.driver as LinuxBoxDriver, box, { args: ['sh', '-c', `head -c ${STREAM_BYTES} /dev/zero | nc ${to} ${port}`] }),
  });
  const boxRound = () => stream(sendFrom(bridged, sender, GATEWAY), received(link));
  const bareRound = () => stream(sendFrom(without, bareBox, '10.241.0.1'), received('nsbb-v0'));
  const rates = { bare: [] as number[], box: [] as number[], ratio: [] as number[] };
  const loads: string[] = [];
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    // The order alternates, so that a trend in the machine's load weighs on both alike.
    const [first, second] = round % 2 === 0 ? [bareRound, boxRound] : [boxRound, bareRound];
    const one = await first();
    const two = await second();
    const [bareRate, boxRate] = round % 2 === 0 ? [one, two] : [two, one];
    rates.bare.push(bareRate);
    rates.box.push(boxRate);
    rates.ratio.push(boxRate / bareRate);
    loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ')[0] as string);
  }
  await bridged.manager.stop('sender', { timeoutMs: 0 });
  await without.manager.stop('bare', { timeoutMs: 0 });
  console.log(
    `\nthroughput to the host side, TCP, busybox nc to one receiver, ${THROUGHPUT_ROUNDS} rounds of ${THROUGHPUT_SECONDS} s each way after the first second (kernel byte counters)\n`,
  );
  console.log(
    `bare veth pair                    ${median(rates.bare).toFixed(0).padStart(8)} Mbit/s  (median; rounds ${rates.bare.map((rate) => rate.toFixed(0)).join(' ')})`,
  );
  console.log(
    `box veth on the bridge            ${median(rates.box).toFixed(0).padStart(8)} Mbit/s  (median; rounds ${rates.box.map((rate) => rate.toFixed(0)).join(' ')})`,
  );
  console.log(
    `box / bare, per round             ${(median(rates.ratio) * 100).toFixed(0).padStart(8)} %       (median; rounds ${rates.ratio.map((ratio) => (ratio * 100).toFixed(0)).join(' ')}; load ${loads.join(' ')}, ${cpus().length} CPUs)`,
  );

  // 3. Many bridged boxes, one after another.
  if (boxes > 0) {
    const times = await timeRuns(boxes, async (index) => {
      await bridged.manager.create({ name: `many${index}`, config: { rootfs, process: { args: ['sleep', '100000'] } } });
      await bridged.manager.start(`many${index}`);
    });
    const links = listLinks(`/run/netns/${hostNs}`).filter((candidate) => isHostLinkName(candidate.name)).length;
    console.log(`\n${boxes} bridged boxes started one after another (create + start)\n`);
    console.log(
      `total ${(times.reduce((sum, time) => sum + time, 0) / 1000).toFixed(1)} s, median ${median(times).toFixed(1)} ms, last ${times.at(-1)?.toFixed(1)} ms, ${links} veths on the bridge`,
    );
  }
} finally {
  // Boxes first, then the namespaces (nsbox's bridge, veths and nft tables go with them).
  for (const failure of await cleanup.run()) console.error(`cleanup: ${failure}`);
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  await cgroups.removeParent?.();
  rmSync(work, { recursive: true, force: true });
}
