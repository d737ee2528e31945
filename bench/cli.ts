/**
 * The `nsbox` CLI as a user meets it: wall time of whole processes per command, median of N,
 * in local mode (the CLI works on the state directory) and through nsboxd (the CLI finds the
 * daemon that serves the state directory and calls its API), next to `node -e 0` (the floor
 * of any Node CLI) and crun. Also the CPU time of each process and the children it waited
 * for (mean), which stays readable when other work shares the machine.
 *   npm run bench:cli -- [runs]
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { buildBusyboxRootfs, createCgroupDriver } from '@nsbox/runtime';
import { median, timeCrun } from './bench-support.js';

const runs = Number(process.argv[2] ?? 15);
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-cli-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const cli = join(process.cwd(), 'packages/cli/bin/nsbox.js');
const env: NodeJS.ProcessEnv = { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent };
delete env.NSBOX_LOCAL;
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (ms) of this process's waited-for children so far, from /proc/self/stat. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat (cutime, cstime), counted from the state field (3).
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
}

interface Timing {
  medianMs: number;
  cpuMs: number;
}

/** Runs a process `runs` times (after one warm-up), a fresh argv each time; throws on a failure. */
function time(argvFor: (run: number) => string[], label: string): Timing {
  const once = (run: number) => {
    const argv = argvFor(run);
    const result = spawnSync(argv[0] as string, argv.slice(1), { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${label} failed (${result.status}): ${result.stderr}`);
  };
  once(-1);
  const times: number[] = [];
  const cpuBefore = childrenCpuMs();
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    once(run);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { medianMs: median(times), cpuMs: (childrenCpuMs() - cpuBefore) / runs };
}

/**
 * Where a local command's time goes: the steps `nsbox list --local` takes, each timed in one
 * process of the built packages (performance.now() counts from the process's start, so the
 * first step is Node's own start-up and ES loader). Median of each step over `runs` processes.
 */
function localPhases(stateDir: string): [string, number][] {
  const script = `const marks = [['node start-up, ES loader', performance.now()]];
const mark = (name) => marks.push([name, performance.now()]);
await import('@nsbox/core'); mark('import @nsbox/core (code cache)');
const host = await import('@nsbox/host'); mark('import @nsbox/host, @nsbox/store');
const { LinuxBoxDriver } = await import('@nsbox/runtime'); mark('import @nsbox/runtime (code cache)');
const stateDir = ${JSON.stringify(stateDir)};
const plugins = await host.findPlugins({ stateDir }); mark(\`import the \${plugins.length} plugins\`);
const opened = await host.openHost({ stateDir, driver: new LinuxBoxDriver({ stateDir, cgroupParent: process.env.NSBOX_CGROUP_PARENT }) });
mark('open the host: store, plugins set up');
await opened.manager.reconcile(); mark('reconcile the boxes');
await new host.LocalBoxApi(opened).list({}); mark('list');
opened.close();
console.log(JSON.stringify(marks));`;
  const samples: number[][] = [];
  let names: string[] = [];
  for (let run = 0; run <= runs; run++) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', cwd: join(process.cwd(), 'packages/cli') });
    if (result.status !== 0) throw new Error(`the local phases failed: ${result.stderr}`);
    const marks = JSON.parse(result.stdout) as [string, number][];
    names = marks.map(([name]) => name);
    if (run > 0) samples.push(marks.map(([, at], index) => at - (marks[index - 1]?.[1] ?? 0)));
  }
  return names.map((name, index) => [name, median(samples.map((sample) => sample[index] as number))]);
}

function startDaemon(stateDir: string, socketPath: string): ChildProcess {
  const built = join(process.cwd(), 'packages/daemon/bin/nsboxd.js');
  return spawn(process.execPath, [built, '--socket', socketPath, '--socket-group', 'root', '--state-dir', stateDir, '--log-level', 'warn'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitForDaemon(socketPath: string, daemon: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const probe = new NsboxClient({ socketPath, timeoutMs: 2000 });
    const up = await probe.health().then(
      () => true,
      () => false,
    );
    probe.close();
    if (up) return;
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error('nsboxd did not come up');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const localState = join(work, 'state-local');
const daemonState = join(work, 'state-daemon');
mkdirSync(localState);
mkdirSync(daemonState);
const socketPath = join(work, 'nsboxd.sock');
const daemon = startDaemon(daemonState, socketPath);
try {
  await waitForDaemon(socketPath, daemon);
  if (!existsSync(join(daemonState, 'nsboxd.json'))) throw new Error('nsboxd did not write nsboxd.json');
  const nsbox = (stateDir: string, ...args: string[]) => [process.execPath, cli, '--state-dir', stateDir, ...args];
  // bench-up runs all along (info, exec and stats look at it); each run of the life-cycle rows
  // makes its own box: create cN, start cN, exec in it, stop cN, destroy cN, in that order.
  const sleeper = ['/bin/sh', '-c', "trap 'exit 0' TERM; sleep 100000 & wait"];
  for (const stateDir of [localState, daemonState]) {
    const created = spawnSync(process.execPath, [cli, '--state-dir', stateDir, 'create', 'bench-up', '--rootfs', rootfs, '--', ...sleeper], {
      env,
      encoding: 'utf8',
    });
    if (created.status !== 0) throw new Error(`nsbox create failed: ${created.stderr}`);
    const started = spawnSync(process.execPath, [cli, '--state-dir', stateDir, 'start', 'bench-up'], { env, encoding: 'utf8' });
    if (started.status !== 0) throw new Error(`nsbox start failed: ${started.stderr}`);
  }

  const box = (run: number) => `c${run + 2}`;
  const commands: { name: string; args: (stateDir: string, run: number) => string[] }[] = [
    { name: 'nsbox --version', args: (stateDir) => nsbox(stateDir, '--version') },
    { name: 'nsbox list', args: (stateDir) => nsbox(stateDir, 'list') },
    { name: 'nsbox info NAME', args: (stateDir) => nsbox(stateDir, 'info', 'bench-up') },
    { name: 'nsbox create NAME', args: (stateDir, run) => nsbox(stateDir, 'create', box(run), '--rootfs', rootfs, '--', ...sleeper) },
    { name: 'nsbox start NAME', args: (stateDir, run) => nsbox(stateDir, 'start', box(run)) },
    { name: 'nsbox exec NAME /bin/true', args: (stateDir) => nsbox(stateDir, 'exec', 'bench-up', '--', '/bin/true') },
    { name: 'nsbox stop NAME', args: (stateDir, run) => nsbox(stateDir, 'stop', box(run)) },
    { name: 'nsbox destroy NAME', args: (stateDir, run) => nsbox(stateDir, 'destroy', box(run)) },
    { name: 'nsbox run --rm /bin/true', args: (stateDir, run) => nsbox(stateDir, 'run', '--rm', '--rootfs', rootfs, `run${run + 2}`, '--', '/bin/true') },
    { name: 'nsbox stats NAME', args: (stateDir) => nsbox(stateDir, 'stats', 'bench-up') },
  ];
  const floor = time(() => [process.execPath, '-e', '0'], 'node -e 0');
  // What `npx nsbox` adds (npm's exec, not nsbox): every other row runs the bin directly.
  const npx = time(() => ['npx', '--no-install', 'nsbox', '--version'], 'npx nsbox --version');
  const crun = timeCrun(work, rootfs, runs);

  const ms = (value: number | undefined) => (value === undefined ? 'n/a'.padStart(9) : `${value.toFixed(1).padStart(6)} ms`);
  const ratio = (value: number) => (crun.medianMs ? `${(value / crun.medianMs).toFixed(1).padStart(5)}x` : '  n/a');
  console.log(
    `\nnsbox CLI, wall time per process, median of ${runs} runs (CPU: mean user+sys of the process and its waited-for children); load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')} at the start\n`,
  );
  console.log(
    `${'command'.padEnd(28)}${'local'.padStart(9)}${'vs crun'.padStart(8)}${'nsboxd'.padStart(11)}${'vs crun'.padStart(8)}${'CPU local'.padStart(12)}${'CPU nsboxd'.padStart(12)}`,
  );
  console.log(`${'node -e 0 (floor)'.padEnd(28)}${ms(floor.medianMs)}${ratio(floor.medianMs).padStart(8)}${''.padStart(19)}${ms(floor.cpuMs).padStart(12)}`);
  for (const command of commands) {
    const local = time((run) => command.args(localState, run), `${command.name} (local)`);
    const remote = time((run) => command.args(daemonState, run), `${command.name} (nsboxd)`);
    console.log(
      `${command.name.padEnd(28)}${ms(local.medianMs)}${ratio(local.medianMs).padStart(8)}${ms(remote.medianMs).padStart(11)}${ratio(remote.medianMs).padStart(8)}${ms(local.cpuMs).padStart(12)}${ms(remote.cpuMs).padStart(12)}`,
    );
  }
  console.log(`${'crun run /bin/true'.padEnd(28)}${ms(crun.medianMs)}${crun.note ? `  (${crun.note})` : ''}`);
  console.log(`${'npx nsbox --version'.padEnd(28)}${ms(npx.medianMs)}${''.padStart(27)}${ms(npx.cpuMs).padStart(12)}  (npm's exec around the bin)`);
  console.log(`\nwhere \`nsbox list --local\` spends its time (one process of the built packages, median of ${runs})\n`);
  let total = 0;
  for (const [name, phaseMs] of localPhases(localState)) {
    total += phaseMs;
    console.log(`${name.padEnd(40)}${ms(phaseMs)}`);
  }
  console.log(`${'total'.padEnd(40)}${ms(total)}`);
  console.log(
    `\nload average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')} at the end`,
  );
} finally {
  // Every box either mode still has (bench-up, and what a failed run left) goes before nsboxd does.
  for (const stateDir of [localState, daemonState]) {
    const listed = spawnSync(process.execPath, [cli, '--state-dir', stateDir, '--json', 'list'], { env, encoding: 'utf8' });
    const boxes = listed.status === 0 ? (JSON.parse(listed.stdout) as { name: string }[]) : [];
    for (const { name } of boxes) spawnSync(process.execPath, [cli, '--state-dir', stateDir, 'destroy', '-f', name], { env, stdio: 'ignore' });
  }
  daemon.kill('SIGTERM');
  if (daemon.exitCode === null) await new Promise((resolve) => daemon.once('exit', resolve));
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  await cgroups.removeParent?.();
  rmSync(work, { recursive: true, force: true });
}
