/**
 * tracking in a real nsboxd on its socket: the sampler runs in the daemon's resident agent,
 * `GET /metrics` (checked by promtool) shows a tenant only its boxes, `nsbox stats` runs as an
 * action through the API (SDK and CLI), GET /boxes/:id/stats (now, history, stream) through the
 * SDK, flight-recorder events (an OOM kill, a seccomp denial) reach the event stream, and a real Prometheus scrapes nsboxd on
 * loopback and answers a PromQL rate of a box's CPU.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isNsboxApiError, type NsboxClient } from '@nsbox/client';
import type { AnyPlugin } from '@nsbox/core';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { hostPluginPackages, runCli, startTestDaemon, type TestDaemon } from '../../../packages/daemon/test/daemon-fixture.js';
import { type BoxHistoryView, type BoxStatsView, type StatsResult, trackingPlugin } from '../src/index.js';
import { sleep, waitFor } from './support.js';

// Niced: it spins on idle CPU time only, and leaves the test's own processes theirs.
const spinner = { template: 'busybox', process: { args: ['sh', '-c', 'renice -n 19 $$ >/dev/null; while :; do :; done'] } };
const sleeper = { template: 'busybox', process: { args: ['sleep', '100000'] } };

function promtool(text: string): { code: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('tracking in nsboxd', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let admin: NsboxClient;

  before(function () {
    requireRoot(this, 'tracking in nsboxd');
  });

  async function start(tcp?: { host: string; port: number; insecure: boolean }) {
    nsboxd = await startTestDaemon(cleanup, {
      plugins: [trackingPlugin as AnyPlugin],
      hostConfig: { plugins: [...hostPluginPackages, '@nsbox/plugin-tracking'], settings: { tracking: { intervalSeconds: 0.5 } } },
      ...(tcp ? { tcp } : {}),
    });
    admin = nsboxd.client;
  }

  async function tenantClient(name: string): Promise<{ client: NsboxClient; token: string }> {
    await admin.tenants.create({ name });
    const { token } = await admin.tokens.create({ name: `${name}-reader`, tenant: name, role: 'operator' });
    return { client: nsboxd.clientFor(token), token };
  }

  it("samples in the daemon's agent; /metrics passes promtool and shows a tenant its own boxes only; stats through the SDK and the CLI", async () => {
    await start();
    const acme = await tenantClient('acme');
    // Not niced and capped at half a CPU: its share is measured while other suites run, and it
    // leaves the test's own processes the rest.
    const capped = { template: 'busybox', process: { args: ['sh', '-c', 'while :; do :; done'] }, limits: { cpus: 0.5 } };
    await (await admin.boxes.create({ name: 'hostbox', config: capped, start: true })).wait();
    await (await acme.client.boxes.create({ name: 'web', config: sleeper, start: true })).wait();
    const states = nsboxd.daemon.agent.services.states().filter((state) => state.plugin === 'tracking');
    assert.deepEqual(states, [{ plugin: 'tracking', name: 'sampler', status: 'running', crashes: 0 }]);

    let text = '';
    assert.ok(
      await waitFor(async () => {
        text = await admin.metrics();
        return /^nsbox_box_cpu_seconds_total\{box="hostbox",tenant=""\} [\d.e+-]+$/m.test(text) && text.includes('box="acme--web",tenant="acme"');
      }, 10_000),
      `both boxes in the admin's scrape:\n${text}`,
    );
    assert.match(text, /^# TYPE nsbox_box_cpu_seconds_total counter$/m);
    assert.match(text, /^# HELP nsbox_box_memory_usage_bytes /m);
    assert.match(text, /^nsbox_box_processes\{box="acme--web",tenant="acme"\} 1$/m);
    assert.match(text, /^nsbox_boxes\{state="running"\} 2$/m);
    // No disk limit: the figures of the host's filesystem that holds the box's root.
    assert.match(text, /^nsbox_box_disk_used_bytes\{box="acme--web",filesystem="shared",tenant="acme"\} \d+$/m);
    assert.match(text, /^nsbox_box_disk_inodes_free\{box="acme--web",filesystem="shared",tenant="acme"\} \d+$/m);
    const checked = promtool(text);
    assert.equal(checked.code, 0, `promtool check metrics:\n${checked.output}`);
    // The control: promtool does find what the format forbids.
    assert.notEqual(promtool(text.replace(/nsbox_box_oom_kills_total/g, 'nsbox_box_oom_kills')).code, 0);

    const tenantText = await acme.client.metrics();
    assert.match(tenantText, /^nsbox_box_cpu_seconds_total\{box="web",tenant="acme"\} /m);
    assert.doesNotMatch(tenantText, /hostbox/, "another tenant's box is not in a tenant's scrape");
    assert.match(tenantText, /^nsbox_boxes\{state="running"\} 1$/m);
    await assert.rejects(
      new (admin.constructor as typeof NsboxClient)({ socketPath: nsboxd.socketPath }).metrics(),
      (error: unknown) => isNsboxApiError(error) && error.status === 401,
    );

    // stats as an action: the SDK (a GET route), the caller's view of the boxes.
    const mine = (await acme.client.actions.run('tracking', 'stats', { box: 'web' })) as StatsResult;
    assert.equal(mine.stats?.box, 'web');
    assert.equal(mine.stats?.processes, 1);
    await assert.rejects(acme.client.actions.run('tracking', 'stats', { box: 'hostbox' }), (error: unknown) => isNsboxApiError(error) && error.status === 404);
    await assert.rejects(acme.client.actions.run('tracking', 'stats', { box: 'web', since: 'yesterday' }), (error: unknown) => {
      return isNsboxApiError(error) && error.status === 400 && /since/.test(error.message);
    });
    const all = (await acme.client.actions.run('tracking', 'stats', { all: true })) as StatsResult;
    assert.deepEqual(
      all.boxes?.map((box) => box.box),
      ['web'],
    );
    const spun = (await admin.actions.run('tracking', 'stats', { box: 'hostbox', since: '1h' })) as StatsResult;
    assert.ok((spun.stats?.cpu.percent ?? 0) > 5, `a spinning box uses CPU: ${JSON.stringify(spun.stats?.cpu)}`);
    assert.equal(spun.stats?.history?.tier, 'fine');
    assert.ok((spun.stats?.history?.points.length ?? 0) >= 1);

    // The CLI: through nsboxd with the tenant's token, and its human table.
    const cli = { stateDir: nsboxd.stateDir, cgroupParent: nsboxd.cgroupParent, env: { NSBOX_TOKEN: acme.token } };
    const json = await runCli(['--json', 'stats', 'web'], cli);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as StatsResult).stats?.box, 'web');
    const table = await runCli(['stats', '--all'], cli);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^BOX\s+STATE\s+CPU\s+MEMORY/m);
    assert.match(table.stdout, /^web\s+running\s+/m);
    const both = await runCli(['stats', 'web', '--all'], cli);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /box or --all/);
  });

  it("shows a steady scraper each round's samples and a box's stop at its next scrape (what nsboxd writes ahead of it)", async () => {
    await start();
    await (await admin.boxes.create({ name: 'busy', config: { ...spinner, limits: { cpus: 0.5 } }, start: true })).wait();
    await (await admin.boxes.create({ name: 'calm', config: sleeper, start: true })).wait();
    const cpuOf = (text: string) => Number(/^nsbox_box_cpu_seconds_total\{box="busy",tenant=""\} (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    assert.ok(await waitFor(async () => !Number.isNaN(cpuOf(await admin.metrics())), 10_000), 'busy in the scrape');
    // Scrapes every 150 ms over rounds every 500 ms: nsboxd writes each round's samples as it
    // ends. A scrape that starts after a round ended that another scrape did not see must show
    // a newer value (the box spins: its counter grows every round), never the kept one again.
    const rounds = async () => ((await admin.host()) as unknown as { plugins: { tracking: { sampler: { rounds: number } } } }).plugins.tracking.sampler.rounds;
    const scrapes: { before: number; value: number; after: number }[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const before = await rounds();
      const value = cpuOf(await admin.metrics());
      scrapes.push({ before, value, after: await rounds() });
      await sleep(150);
    }
    const shown = scrapes.map(({ before, value, after }) => `${before}:${value}:${after}`).join(' ');
    let compared = 0;
    for (const [index, later] of scrapes.entries()) {
      for (const earlier of scrapes.slice(0, index)) {
        assert.ok(later.value >= earlier.value, `a counter never goes back: ${shown}`);
        if (later.before <= earlier.after) continue;
        compared += 1;
        assert.ok(later.value > earlier.value, `a scrape after a new round shows it: ${shown}`);
      }
    }
    assert.ok(compared > 0, `scrapes on both sides of a round: ${shown}`);

    await admin.boxes.stop('calm', { timeout: 0 });
    const after = await admin.metrics();
    assert.match(after, /^nsbox_boxes\{state="stopped"\} 1$/m);
    assert.match(after, /^nsbox_boxes\{state="running"\} 1$/m);
    assert.doesNotMatch(after, /box="calm"/, 'a stopped box has no samples');
    assert.equal(promtool(after).code, 0);
  });

  it("serves a box's stats now, its history over a range and a stream of its samples, in the caller's scope", async () => {
    await start();
    const acme = await tenantClient('acme');
    await (await admin.boxes.create({ name: 'hostbox', config: sleeper, start: true })).wait();
    await (await acme.client.boxes.create({ name: 'web', config: { ...sleeper, limits: { disk: '64M' } }, start: true })).wait();
    await (await acme.client.boxes.create({ name: 'idle', config: sleeper })).wait();

    const now = await acme.client.boxes.stats<BoxStatsView>('web');
    assert.deepEqual([now.box, now.state, now.processes, now.disk?.own], ['web', 'running', 1, true], JSON.stringify(now));
    assert.ok((now.disk?.sizeBytes ?? 0) > 60 * 2 ** 20 && (now.disk?.sizeBytes ?? 0) <= 64 * 2 ** 20, `the 64M image: ${JSON.stringify(now.disk)}`);
    const status = (code: number, field?: string) => (error: unknown) =>
      isNsboxApiError(error) && error.status === code && (field === undefined || error.field === field);
    await assert.rejects(acme.client.boxes.stats('hostbox'), status(404), "another tenant's box is missing to a tenant");
    await assert.rejects(acme.client.boxes.stats('idle'), status(409, 'state'), 'a stopped box has no usage now');

    // The sampler (every 0.5 s here) has written a few points by now: the fine tier.
    let history: BoxHistoryView & { box: string } = await acme.client.boxes.statsHistory('web', { since: '1h' });
    assert.ok(
      await waitFor(async () => {
        history = await acme.client.boxes.statsHistory('web', { since: '1h' });
        return history.points.length >= 1 && history.points.at(-1)?.diskUsed != null;
      }, 10_000),
      JSON.stringify(history),
    );
    assert.deepEqual([history.box, history.tier, history.stepMs], ['web', 'fine', 60_000]);
    const from = new Date(Date.now() - 3_600_000);
    const ranged: BoxHistoryView = await acme.client.boxes.statsHistory('web', { from, to: Date.now() + 1000 });
    assert.equal(ranged.from, from.toISOString());
    assert.deepEqual(
      ranged.points.map((point) => point.time),
      history.points.map((point) => point.time),
    );
    const empty: BoxHistoryView = await acme.client.boxes.statsHistory('web', { from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' });
    assert.deepEqual([empty.tier, empty.points], ['coarse', []], 'a range past every retention is empty');
    for (const [range, field] of [
      [{ since: 'yesterday' }, 'since'],
      [{ from: 'tuesday' }, 'from'],
      [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
      [{ since: '1h', from: '2026-01-01' }, 'since'],
      [{ to: '2026-01-01' }, 'from'],
      [{}, 'since'],
    ] as const) {
      await assert.rejects(acme.client.boxes.statsHistory('web', range), status(400, field), JSON.stringify(range));
    }
    await assert.rejects(acme.client.boxes.statsHistory('hostbox', { since: '1h' }), status(404));

    // The stream: the usage now, then each new sample, until the box stops.
    const controller = new AbortController();
    cleanup.add('stop following stats', () => controller.abort());
    const seen: BoxStatsView[] = [];
    const followed = (async () => {
      for await (const stats of acme.client.boxes.followStats<BoxStatsView>('web', { signal: controller.signal })) {
        seen.push(stats);
        if (seen.length === 3) void acme.client.boxes.stop('web', { timeout: 0 });
      }
      return 'ended';
    })();
    const ended = await Promise.race([followed, sleep(20_000).then(() => 'timed out')]);
    assert.equal(ended, 'ended', `the stream ends once the box stops (${seen.length} samples seen)`);
    assert.ok(seen.length >= 3 && seen.every((stats) => stats.box === 'web'));
    const times = seen.map((stats) => Date.parse(stats.time));
    assert.ok(
      times.every((time, index) => index === 0 || time > (times[index - 1] as number)),
      `each sample newer than the last: ${times}`,
    );
    await assert.rejects(acme.client.boxes.followStats('web').next(), status(409, 'state'), 'a stopped box has nothing to follow');
    await assert.rejects(acme.client.boxes.followStats('hostbox').next(), status(404));
  });

  it('pushes a flight-recorder event onto the event stream as the sampler notices it', async () => {
    await start();
    await (await admin.boxes.create({ name: 'hog', config: { ...sleeper, limits: { memory: 48 * 2 ** 20 } }, start: true })).wait();
    const controller = new AbortController();
    cleanup.add('stop following events', () => controller.abort());
    const seen = (async () => {
      for await (const event of admin.events.stream({ kind: 'tracking.oom-kill', signal: controller.signal })) return event;
      return undefined;
    })();
    await sleep(1200); // the sampler has a trail of the box before the kill
    const killed = await admin.boxes.exec('hog', { command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=150M count=1 2>/dev/null; echo $?'] });
    assert.equal(killed.stdout.trim(), '137');
    const event = await Promise.race([seen, sleep(10_000).then(() => undefined)]);
    controller.abort();
    assert.equal(event?.source, 'tracking');
    assert.equal(event?.data['box'], 'hog');
    assert.deepEqual(
      ((event?.data['victims'] ?? []) as { command: string }[]).map((victim) => victim.command),
      ['dd'],
    );

    // A seccomp denial: on the stream, naming the syscall, and counted in /metrics.
    const denials = new AbortController();
    cleanup.add('stop following denials', () => denials.abort());
    const denied = (async () => {
      for await (const next of admin.events.stream({ kind: 'tracking.seccomp-denied', signal: denials.signal })) return next;
      return undefined;
    })();
    const mount = await admin.boxes.exec('hog', { command: ['sh', '-c', 'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; echo status=$?'] });
    assert.match(mount.stdout, /permission denied[\s\S]*status=[1-9]/, mount.stdout);
    const denial = await Promise.race([denied, sleep(10_000).then(() => undefined)]);
    denials.abort();
    assert.equal(denial?.data['box'], 'hog', JSON.stringify(denial?.data));
    const syscalls = (denial?.data['syscalls'] ?? []) as { syscall: string; command: string }[];
    assert.ok(
      syscalls.some((entry) => entry.syscall === 'mount' && entry.command === 'mount'),
      JSON.stringify(syscalls),
    );
    const metrics = await admin.metrics();
    assert.match(metrics, /^nsbox_box_seccomp_denials_total\{box="hog"[^}]*\} [1-9]/m);
  });

  it('is scraped by a real Prometheus on loopback, which answers the CPU rate of a box', async () => {
    const port = await freePort();
    await start({ host: '127.0.0.1', port: 0, insecure: true });
    await (await admin.boxes.create({ name: 'spin', config: { ...spinner, limits: { cpus: 0.5 } }, start: true })).wait();
    const target = (nsboxd.daemon.tcpAddress ?? '').replace(/^https?:\/\//, '');
    assert.match(target, /^127\.0\.0\.1:\d+$/);
    const dir = makeTempDir(cleanup, 'prometheus');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, nsboxd.daemon.adminToken, { mode: 0o600 });
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: nsboxd',
        `    static_configs: [{ targets: ['${target}'] }]`,
        `    authorization: { type: Bearer, credentials_file: ${tokenFile} }`,
      ].join('\n'),
    );
    const prometheus: ChildProcess = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prometheus.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
    });
    cleanup.add('stop prometheus', async () => {
      if (prometheus.exitCode !== null) return;
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
    });
    const query = `rate(nsbox_box_cpu_seconds_total{box="spin",job="nsboxd"}[4s])`;
    let rate = Number.NaN;
    const answered = await waitFor(
      async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
          const body = (await response.json()) as { data?: { result?: { value: [number, string] }[] } };
          rate = Number(body.data?.result?.[0]?.value[1]);
          return Number.isFinite(rate) && rate > 0;
        } catch {
          return false;
        }
      },
      30_000,
      500,
    );
    assert.ok(answered, `Prometheus answered ${query}: ${rate}\n${log.slice(-2000)}`);
    // At most half a CPU: the box's quota; well above nothing: it spins.
    assert.ok(rate > 0.1 && rate <= 0.6, `CPU rate ${rate}`);
  });
});
