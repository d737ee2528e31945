/**
 * nsboxd through the SDK, on its unix socket: requests per second for GET /boxes (and
 * /health, which skips the token and the store, as a floor), then box create+start+destroy
 * cycles per second, one at a time and four at once. nsboxd runs as its own process.
 * Then how GET /boxes grows: at 10, 100 and 1,000 boxes (those up to `--boxes MAX`), stored
 * (stopped: copies of a real stopped box's row, spec and all, which cost a list what a box
 * stopped by nsbox does) and running (those up to `--running MAX`, 100 unless told: 1,000 take
 * a minute or more to start), each timed with one request at a time (the latency a caller
 * sees) and with 16 in flight (what nsboxd can serve). `--plugins` runs nsboxd with every
 * installed plugin (discovered) instead of the runtime alone; `--daemon-root DIR` runs the
 * nsboxd of another checkout (before and after a change), `--source` from its sources;
 * `--cpu-prof-dir DIR` leaves nsboxd's CPU profile there.
 *   npm run bench:api -- [seconds per request test] [create cycles] [--boxes MAX] [--running MAX] [--plugins] [--daemon-root DIR] [--source] [--cpu-prof-dir DIR]
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { createCgroupDriver } from '@nsbox/runtime';
import Database from 'better-sqlite3';
import { median } from './bench-support.js';

const valued = ['--boxes', '--running', '--daemon-root', '--cpu-prof-dir'];
const positional = process.argv.slice(2).filter((arg, index, all) => !arg.startsWith('--') && !valued.includes(all[index - 1] as string));
const seconds = Number(positional[0] ?? 5);
const cycles = Number(positional[1] ?? 20);
function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}
const maxBoxes = Number(option('--boxes') ?? 10);
const maxRunning = Math.min(maxBoxes, Number(option('--running') ?? 100));
const daemonRoot = option('--daemon-root') ?? process.cwd();
const withPlugins = process.argv.includes('--plugins');
/** nsboxd from its sources (tsx), built or not: how a checkout without a build runs it. */
const fromSource = process.argv.includes('--source');
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
  const built = join(daemonRoot, 'packages/daemon/bin/nsboxd.js');
  const args =
    !fromSource && existsSync(join(daemonRoot, 'packages/daemon/dist/main.js'))
      ? [built]
      : ['--import', 'tsx', '--conditions=source', join(daemonRoot, 'packages/daemon/src/main.ts')];
  const profile = option('--cpu-prof-dir');
  if (profile) args.unshift('--cpu-prof', '--cpu-prof-dir', profile);
  return spawn(process.execPath, [...args, '--socket', socketPath, '--socket-group', 'root', '--state-dir', stateDir, '--log-level', 'warn'], {
    cwd: daemonRoot,
    env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Keeps `inFlight` requests in flight for `seconds`; returns requests/s and latencies. */
async function hammer(call: () => Promise<unknown>, inFlight = concurrency): Promise<{ perSecond: number; p50: number; p99: number; count: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
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

  // How the list grows: GET /boxes at 10, 100 and 1,000 boxes, stored and running.
  for (const box of await api.boxes.list()) await api.boxes.destroy(box.name, { force: true });
  console.log(`\nGET /boxes as the boxes grow: 1 request at a time (latency), then ${concurrency} in flight (throughput)`);
  const levels = [10, 100, 1000].filter((level) => level <= maxBoxes);
  const timeList = async (label: string, note = '') => {
    const one = await hammer(() => api.boxes.list(), 1);
    const many = await hammer(() => api.boxes.list());
    console.log(
      `${label.padEnd(30)} 1: p50 ${one.p50.toFixed(2).padStart(8)} ms  p99 ${one.p99.toFixed(2).padStart(8)} ms   ${concurrency}: ${many.perSecond.toFixed(0).padStart(5)} req/s  p99 ${many.p99.toFixed(2).padStart(8)} ms${note}`,
    );
  };

  // Stored: a real box, started and stopped, its row copied (the store is shared: WAL).
  await (await api.boxes.create({ name: 'stored-model', config: { template: 'busybox', process: { args: ['sleep', '100000'] } }, start: true })).wait();
  await api.boxes.stop('stored-model', { timeout: 0 });
  const db = new Database(join(stateDir, 'nsbox.db'));
  db.pragma('busy_timeout = 10000');
  const model = db.prepare("SELECT * FROM boxes WHERE name = 'stored-model'").get() as Record<string, unknown>;
  const columns = Object.keys(model);
  const copy = db.prepare(`INSERT INTO boxes (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  // Where a box's spec is kept: in its runtime facts (before), or in a table of its own.
  const specTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'box_specs'").get() !== undefined;
  const modelSpec = specTable ? (db.prepare('SELECT spec FROM box_specs WHERE box_id = ?').get(model.id) as { spec: string } | undefined)?.spec : undefined;
  const copySpec = specTable ? db.prepare('INSERT INTO box_specs (box_id, spec) VALUES (?, ?)') : undefined;
  const sizes = columns.map((column) => `${column} ${(String(model[column] ?? '').length / 1024).toFixed(1)}`);
  if (modelSpec !== undefined) sizes.push(`box_specs.spec ${(modelSpec.length / 1024).toFixed(1)}`);
  const copies: string[] = [];
  let stored = 1;
  try {
    for (const level of levels) {
      db.transaction(() => {
        for (; stored < level; stored++) {
          const id = randomUUID();
          copies.push(id);
          copy.run(...columns.map((column) => (column === 'id' ? id : column === 'name' ? `stored-${stored}` : model[column])));
          if (modelSpec !== undefined) copySpec?.run(id, modelSpec);
        }
      })();
      await timeList(`${level} stored (stopped)`, level === levels[0] ? `   (a stored box, KiB: ${sizes.join(', ')})` : '');
    }
  } finally {
    const remove = db.prepare('DELETE FROM boxes WHERE id = ?');
    const removeSpec = specTable ? db.prepare('DELETE FROM box_specs WHERE box_id = ?') : undefined;
    db.transaction(() => {
      for (const id of copies) {
        remove.run(id);
        removeSpec?.run(id);
      }
    })();
    db.close();
  }
  await api.boxes.destroy('stored-model', { force: true });

  let running = 0;
  for (const level of levels.filter((level) => level <= maxRunning)) {
    const fillStart = performance.now();
    for (; running < level; running++) {
      await (await api.boxes.create({ name: `idle-${running}`, config: { template: 'busybox', process: { args: ['sleep', '100000'] } }, start: true })).wait();
    }
    await timeList(`${level} running`, `   (started in ${((performance.now() - fillStart) / 1000).toFixed(1)} s)`);
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
