/**
 * nsboxd through the SDK, on its unix socket: requests per second for GET /boxes (and
 * /health, which skips the token and the store, as a floor), then box create+start+destroy
 * cycles per second, one at a time and four at once. nsboxd runs as its own process.
 * With `--boxes MAX`, GET /boxes is timed again with 100 and 1,000 running boxes (those up to
 * MAX), so that a list that costs more than the boxes it lists shows; `--plugins` runs nsboxd
 * with every installed plugin (discovered) instead of the runtime alone.
 *   npm run bench:api -- [seconds per request test] [create cycles] [--boxes MAX] [--plugins]
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { createCgroupDriver } from '@nsbox/runtime';
import { median } from './bench-support.js';

const positional = process.argv.slice(2).filter((arg, index, all) => !arg.startsWith('--') && all[index - 1] !== '--boxes');
const seconds = Number(positional[0] ?? 5);
const cycles = Number(positional[1] ?? 20);
const boxesIndex = process.argv.indexOf('--boxes');
const maxBoxes = boxesIndex > 0 ? Number(process.argv[boxesIndex + 1]) : 10;
const withPlugins = process.argv.includes('--plugins');
const concurrency = 16;
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-api-'));
const stateDir = join(work, 'state');
const socketPath = join(work, 'nsbox.sock');
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
mkdirSync(stateDir);
writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: withPlugins }));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function startDaemon(): ChildProcess {
  const built = join(process.cwd(), 'packages/daemon/bin/nsboxd.js');
  const args = existsSync(join(process.cwd(), 'packages/daemon/dist/main.js'))
    ? [built]
    : ['--import', 'tsx', '--conditions=source', join(process.cwd(), 'packages/daemon/src/main.ts')];
  return spawn(process.execPath, [...args, '--socket', socketPath, '--socket-group', 'root', '--state-dir', stateDir, '--log-level', 'warn'], {
    env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Keeps `concurrency` requests in flight for `seconds`; returns requests/s and latencies. */
async function hammer(call: () => Promise<unknown>): Promise<{ perSecond: number; p50: number; p99: number; count: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await call();
        latencies.push(performance.now() - start);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length };
}

async function lifecycle(client: NsboxClient, name: string): Promise<void> {
  await (await client.boxes.create({ name, config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
  await client.boxes.destroy(name, { force: true });
}

const daemon = startDaemon();
let client: NsboxClient | undefined;
try {
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(stateDir, 'nsboxd.json'))) {
    if (Date.now() > deadline || daemon.exitCode !== null) throw new Error('nsboxd did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  client = new NsboxClient({ socketPath, token: readFileSync(join(stateDir, 'admin.token'), 'utf8').trim() });
  const api = client;
  console.log(`nsboxd on a unix socket, ${cpus().length} cores, ${concurrency} requests in flight, ${seconds} s per test\n`);

  // A host with ten boxes, half of them running (GET /boxes checks the running ones).
  await Promise.all(
    Array.from({ length: 10 }, async (_, index) =>
      (
        await api.boxes.create({ name: `listed-${index}`, config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: index % 2 === 0 })
      ).wait(),
    ),
  );
  for (const [label, call] of [
    ['GET /health (no token, no store)', () => api.health()],
    ['GET /boxes (10 boxes, 5 running)', () => api.boxes.list()],
    ['GET /boxes/{id}', () => api.boxes.get('listed-1')],
  ] as const) {
    const result = await hammer(call);
    console.log(
      `${label.padEnd(36)}${result.perSecond.toFixed(0).padStart(7)} req/s   p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   (${result.count} requests)`,
    );
  }

  // Warm the template cache, then create+start+destroy cycles.
  await lifecycle(api, 'warm-up');
  const sequential: number[] = [];
  const started = performance.now();
  for (let index = 0; index < cycles; index++) {
    const start = performance.now();
    await lifecycle(api, `cycle-${index}`);
    sequential.push(performance.now() - start);
  }
  const sequentialRate = cycles / ((performance.now() - started) / 1000);
  console.log(
    `\ncreate+start+destroy, one at a time  ${sequentialRate.toFixed(2).padStart(7)} boxes/s   median ${median(sequential).toFixed(0)} ms per box   (${cycles} boxes, busybox template)`,
  );
  const parallelStart = performance.now();
  const lanes = 4;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let index = 0; index < Math.ceil(cycles / lanes); index++) await lifecycle(api, `lane-${lane}-${index}`);
    }),
  );
  const parallelCount = lanes * Math.ceil(cycles / lanes);
  console.log(
    `create+start+destroy, ${lanes} at once     ${(parallelCount / ((performance.now() - parallelStart) / 1000)).toFixed(2).padStart(7)} boxes/s   (${parallelCount} boxes)`,
  );

  // How the list grows: GET /boxes with 100 and 1,000 running boxes.
  const levels = [100, 1000].filter((level) => level <= maxBoxes);
  if (levels.length > 0) console.log('');
  let running = 0;
  for (const level of levels) {
    const fillStart = performance.now();
    for (; running < level; running++) {
      await (await api.boxes.create({ name: `idle-${running}`, config: { template: 'busybox', process: { args: ['sleep', '100000'] } }, start: true })).wait();
    }
    const filled = (performance.now() - fillStart) / 1000;
    const result = await hammer(() => api.boxes.list());
    console.log(
      `${`GET /boxes (${level + 10} boxes, ${level + 5} running)`.padEnd(36)}${result.perSecond.toFixed(0).padStart(7)} req/s   p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   (${result.count} requests; the boxes started in ${filled.toFixed(1)} s)`,
    );
  }

  for (const box of await api.boxes.list()) await api.boxes.destroy(box.name, { force: true });
} finally {
  client?.close();
  daemon.kill('SIGTERM');
  await new Promise((resolve) => daemon.once('exit', resolve));
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
