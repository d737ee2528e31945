/**
 * The figures of issue 16 in one run, on N idle boxes (the cheapest: density's busybox sleep,
 * no other plugin) under an nsboxd of its own with the tracking plugin: one `GET /metrics`
 * scrape (back to back, and the first after a sampler round), `nsbox stats --all` (the API
 * call, and the whole CLI process), the sampler's CPU use (the nsboxd process, from
 * /proc/PID/stat, over a quiet window: nothing else asks it anything), and the history a box
 * costs per day (a day of its real points, written out).
 *   npm run bench:metrics -- [N boxes, default 20] [quiet seconds, default 60]
 * NSBOX_BENCH_PROFILE=DIR: nsboxd writes a V8 CPU profile there (--cpu-prof) as it stops.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { historyMigrations } from '@nsbox/plugin-tracking';
import { buildBusyboxRootfs, createCgroupDriver } from '@nsbox/runtime';
import { SqlitePluginDatabases } from '@nsbox/store';
import { median, timeRuns } from './bench-support.js';

const count = Number(process.argv[2] ?? 20);
const quietSeconds = Number(process.argv[3] ?? 60);
const intervalSeconds = 10;
const runs = 10;
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-metrics-'));
const stateDir = join(work, 'state');
const socketPath = join(work, 'nsboxd.sock');
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const env: NodeJS.ProcessEnv = { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent };
delete env.NSBOX_LOCAL;
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
mkdirSync(stateDir);
writeFileSync(
  join(stateDir, 'host.json'),
  JSON.stringify({ discover: false, plugins: ['@nsbox/plugin-tracking'], settings: { tracking: { intervalSeconds } } }),
);

/** user + system CPU of a process so far, in ms (/proc/PID/stat fields 14 and 15). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

function startDaemon(): ChildProcess {
  // The sources: what this tree says, whatever was last built.
  const main = join(process.cwd(), 'packages/daemon/src/main.ts');
  return spawn(
    process.execPath,
    [
      ...(process.env.NSBOX_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NSBOX_BENCH_PROFILE}`] : []),
      '--import',
      'tsx',
      '--conditions=source',
      main,
      '--socket',
      socketPath,
      '--socket-group',
      'root',
      '--state-dir',
      stateDir,
      '--log-level',
      'warn',
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const daemon = startDaemon();
let client: NsboxClient | undefined;
try {
  await waitFor(
    async () => {
      const probe = new NsboxClient({ socketPath, timeoutMs: 2000 });
      try {
        return (await probe.health()).status === 'ok';
      } finally {
        probe.close();
      }
    },
    60_000,
    'nsboxd',
  );
  const pid = daemon.pid as number;
  const api = new NsboxClient({ socketPath, token: readFileSync(join(stateDir, 'admin.token'), 'utf8').trim(), timeoutMs: 120_000 });
  client = api;

  const started = Date.now();
  let next = 0;
  // Two creates in flight: the machine's cores, not the daemon, are the limit.
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (next < count) {
        const index = next++;
        await (await api.boxes.create({ name: `idle${index}`, config: { rootfs, process: { args: ['/bin/sleep', '100000'] } }, start: true })).wait();
      }
    }),
  );
  const startSeconds = (Date.now() - started) / 1000;

  // Two sampler rounds over every box: the faces then answer from the sampler (rates included).
  const sampled = async () => (await api.metrics()).match(/^nsbox_box_cpu_seconds_total\{/gm)?.length ?? 0;
  await waitFor(async () => (await sampled()) === count, 60_000, `${count} boxes in /metrics`);
  await new Promise((resolve) => setTimeout(resolve, (2 * intervalSeconds + 2) * 1000));

  let scrapeBytes = 0;
  // The daemon's own CPU per call beside the wall time: the machine's load blurs the latter.
  let daemonCpu = cpuMs(pid);
  const scrapes = await timeRuns(runs, async () => {
    scrapeBytes = (await api.metrics()).length;
  });
  const scrapeCpu = (cpuMs(pid) - daemonCpu) / runs;
  // The first scrape as soon as a sampler round ends: what a Prometheus scraping less often than
  // the sampler meets at each scrape (nsboxd wrote it in the round for a caller at that pace).
  const samplerCost = async () =>
    ((await api.host()) as unknown as { plugins: { tracking: { sampler: { rounds: number; cpuMs: number; samples: number; reused: number } } } }).plugins
      .tracking.sampler;
  const afterRound: number[] = [];
  let afterRoundCpu = 0;
  // The rounds while a caller scrapes each one: nsboxd writes its /metrics in them.
  const scrapedFrom = await samplerCost();
  for (let index = 0; index < 3; index++) {
    const rounds = (await samplerCost()).rounds;
    await waitFor(async () => (await samplerCost()).rounds > rounds, (2 * intervalSeconds + 5) * 1000, 'a sampler round');
    const cpuBefore = cpuMs(pid);
    const started = performance.now();
    await api.metrics();
    afterRound.push(performance.now() - started);
    afterRoundCpu += cpuMs(pid) - cpuBefore;
  }
  const scrapedTo = await samplerCost();
  daemonCpu = cpuMs(pid);
  const statsCalls = await timeRuns(runs, async () => {
    const result = (await api.actions.run('tracking', 'stats', { all: true })) as { boxes: { cpu?: unknown }[] };
    if (result.boxes.filter((box) => box.cpu).length !== count) throw new Error('stats --all did not answer from the sampler for every box');
  });
  const statsCpu = (cpuMs(pid) - daemonCpu) / runs;
  const cli = join(process.cwd(), 'packages/cli/bin/nsbox.js');
  const cliRun = () => {
    const result = spawnSync(process.execPath, [cli, '--state-dir', stateDir, 'stats', '--all'], { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`nsbox stats --all failed: ${result.stderr}`);
  };
  cliRun();
  const cliTimes = await timeRuns(runs, cliRun);
  const floorTimes = await timeRuns(runs, () => {
    spawnSync(process.execPath, ['-e', '0']);
  });

  // The quiet window: nothing asks nsboxd anything; its CPU is the sampler's and its idle timers'.
  // Also the rounds' own CPU, as the sampler measures it (process.cpuUsage around each round).
  const roundsBefore = await samplerCost();
  const cpuBefore = cpuMs(pid);
  const wallBefore = performance.now();
  await new Promise((resolve) => setTimeout(resolve, quietSeconds * 1000));
  const cpuUsed = cpuMs(pid) - cpuBefore;
  const wall = performance.now() - wallBefore;
  const roundsAfter = await samplerCost();
  const rounds = roundsAfter.rounds - roundsBefore.rounds;
  const roundsCpu = roundsAfter.cpuMs - roundsBefore.cpuMs;

  // A day of history per box: the latest real point of each box, written as a day's points
  // of both tiers (1,440 fine, 24 coarse) into a fresh database of the plugin's schema.
  const dayDir = join(work, 'day');
  mkdirSync(dayDir);
  const source = new SqlitePluginDatabases(join(stateDir, 'plugins')).open('tracking', historyMigrations);
  const day = new SqlitePluginDatabases(dayDir).open('tracking', historyMigrations);
  const latest = source.all<Record<string, number | string | null>>(
    'SELECT * FROM tracking_points t WHERE tier = 0 AND time = (SELECT max(time) FROM tracking_points WHERE box_id = t.box_id AND tier = 0)',
  );
  const columns = Object.keys(latest[0] ?? {});
  const insert = `INSERT INTO tracking_points (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  day.transaction(() => {
    for (const row of latest) {
      for (const [tier, step, points] of [
        [0, 60_000, 1440],
        [1, 3_600_000, 24],
      ] as const) {
        for (let index = 0; index < points; index++) {
          day.run(insert, ...columns.map((name) => (name === 'tier' ? tier : name === 'time' ? end - index * step : (row[name] ?? null))));
        }
      }
    }
  });
  day.all('PRAGMA wal_checkpoint(TRUNCATE)');
  const dayBytes = day.sizeBytes();

  const ms = (values: number[]) => `${median(values).toFixed(1).padStart(7)} ms median, ${Math.max(...values).toFixed(1)} max`;
  console.log(
    `\nmetrics: ${count} idle boxes (busybox sleep, tracking only), started in ${startSeconds.toFixed(1)} s; ${cpus().length} cores; sampler every ${intervalSeconds} s\n`,
  );
  console.log(`GET /metrics (one scrape, ${(scrapeBytes / 1024).toFixed(0)} KiB)   ${ms(scrapes)}   (nsboxd CPU ${scrapeCpu.toFixed(0)} ms)`);
  console.log(
    `GET /metrics, first after a round       ${ms(afterRound)}   (nsboxd CPU ${(afterRoundCpu / afterRound.length).toFixed(0)} ms; ${afterRound.length} rounds)`,
  );
  console.log(`stats --all (API: the action)         ${ms(statsCalls)}   (nsboxd CPU ${statsCpu.toFixed(0)} ms)`);
  console.log(`nsbox stats --all (CLI process)       ${ms(cliTimes)}   (node -e 0: ${median(floorTimes).toFixed(1)} ms)`);
  console.log(
    `sampler rounds' CPU (${rounds} rounds)       ${((roundsCpu / wall) * 100).toFixed(2)} % of a core (${(roundsCpu / Math.max(rounds, 1)).toFixed(1)} ms per round)`,
  );
  console.log(
    `  of which given again (idle)          ${roundsAfter.reused - roundsBefore.reused} of ${roundsAfter.samples - roundsBefore.samples} samples (a box that did not run: its last full reading, for up to a fine step)`,
  );
  console.log(
    `sampler rounds, each scraped (${scrapedTo.rounds - scrapedFrom.rounds})   ${((scrapedTo.cpuMs - scrapedFrom.cpuMs) / Math.max(scrapedTo.rounds - scrapedFrom.rounds, 1)).toFixed(1)} ms per round (with /metrics written for the scraper)`,
  );
  console.log(
    `nsboxd process CPU, quiet ${(wall / 1000).toFixed(0)} s      ${((cpuUsed / wall) * 100).toFixed(2)} % of a core (${cpuUsed.toFixed(0)} ms: the rounds and every idle timer)`,
  );
  console.log(`history per box per day               ${(dayBytes / latest.length / 1024).toFixed(0)} KiB (${latest.length} boxes, 1,464 points each)`);
} finally {
  if (client) {
    const boxes = await client.boxes.list().catch(() => []);
    await Promise.all(
      [0, 1].map(async (lane) => {
        for (const [index, box] of boxes.entries()) if (index % 2 === lane) await client?.boxes.destroy(box.name, { force: true }).catch(() => undefined);
      }),
    );
    client.close();
  }
  daemon.kill('SIGTERM');
  if (daemon.exitCode === null) await new Promise((resolve) => daemon.once('exit', resolve));
  // Whatever a failed run left: the cgroups of the bench's own parent.
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
