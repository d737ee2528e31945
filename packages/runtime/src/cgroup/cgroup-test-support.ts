/**
 * Helpers for the cgroup suites (not exported by the package): real processes to put in
 * cgroups, and a cleanup that owes nothing to the drivers under test, so that a broken
 * driver still leaves the host clean.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export function requireRoot(context: Mocha.Context): void {
  if (process.getuid?.() === 0) return;
  const reason = 'the cgroup suites need root and the real kernel';
  if (process.env['NSBOX_REQUIRE_ROOT'] === '1') throw new Error(`${reason}, and NSBOX_REQUIRE_ROOT=1 forbids skipping`);
  console.log(`  skipped: ${reason}`);
  context.skip();
}

export function testParentName(): string {
  return `nsbox-test-${randomBytes(4).toString('hex')}`;
}

/** Processes a test started; killed in afterEach whatever happened. */
export class Processes {
  private readonly children: ChildProcess[] = [];

  /** A process that sleeps: it shows in cgroup.procs and nothing else. */
  sleeper(): ChildProcess {
    return this.track(spawn('sleep', ['1000'], { stdio: 'ignore' }));
  }

  /** A shell spinning on a builtin (no forks): its CPU time grows exactly while it may run. */
  spinner(): ChildProcess {
    return this.track(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  }

  /** A shell that keeps forking short-lived children, to race a kill. */
  forker(): ChildProcess {
    return this.track(spawn('sh', ['-c', 'while :; do sleep 0.01 & wait; done'], { stdio: 'ignore' }));
  }

  private track(child: ChildProcess): ChildProcess {
    if (child.pid === undefined) throw new Error('spawn gave no pid');
    this.children.push(child);
    return child;
  }

  killAll(): void {
    for (const child of this.children) if (!hasExited(child)) child.kill('SIGKILL');
  }
}

export function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('child has no pid');
  return child.pid;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with the signal that ended the child, or rejects after timeoutMs. */
export async function exitSignal(child: ChildProcess, timeoutMs = 3000): Promise<NodeJS.Signals | null> {
  if (!hasExited(child)) {
    const timeout = sleep(timeoutMs).then(() => {
      throw new Error(`pid ${child.pid} still runs after ${timeoutMs} ms`);
    });
    await Promise.race([once(child, 'exit'), timeout]);
  }
  return child.signalCode;
}

export function joinCgroup(procsFiles: string[], pid: number): void {
  for (const file of procsFiles) writeFileSync(file, String(pid));
}

/** utime + stime of a process, in clock ticks (proc(5): fields 14 and 15 of stat). */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/** The state letter of /proc/PID/stat (R, S, D, T...). */
export function processState(pid: number): string {
  return statFields(pid)[0]!;
}

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses; fields resume after the last ')'.
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/** CPU ticks the process used over ms milliseconds. */
export async function ticksOver(pid: number, ms: number): Promise<number> {
  const before = cpuTicks(pid);
  await sleep(ms);
  return cpuTicks(pid) - before;
}

/** Whether the process gets CPU time within ms: polled, so a loaded host does not fail it. */
export async function usesCpuWithin(pid: number, ms: number): Promise<boolean> {
  const before = cpuTicks(pid);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await sleep(20);
    if (cpuTicks(pid) > before) return true;
  }
  return false;
}

/**
 * Every directory named parent directly under a hierarchy: /sys/fs/cgroup/<hierarchy>/parent
 * on a v1 or hybrid host, /sys/fs/cgroup/parent on a pure cgroup2 host (its root is the one
 * hierarchy).
 */
export function parentDirsOnHost(parent: string): string[] {
  return [CGROUP_ROOT, ...readdirSync(CGROUP_ROOT).map((hierarchy) => join(CGROUP_ROOT, hierarchy))]
    .map((hierarchy) => join(hierarchy, parent))
    .filter((dir) => isDir(dir));
}

function dirsDeepestFirst(dir: string): string[] {
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => dirsDeepestFirst(join(dir, entry.name)));
  return [...below, dir];
}

function writeIfPresent(path: string, value: string): void {
  if (existsSync(path)) writeFileSync(path, value);
}

/**
 * Thaws, kills and removes everything under parent in every hierarchy, by hand. Only our
 * test parent is touched; the host's other cgroups are never read or written.
 */
export async function removeTestCgroups(parent: string): Promise<void> {
  const dirs = parentDirsOnHost(parent).flatMap((dir) => dirsDeepestFirst(dir));
  for (const dir of dirs) {
    writeIfPresent(join(dir, 'freezer.state'), 'THAWED');
    writeIfPresent(join(dir, 'cgroup.freeze'), '0');
  }
  const deadline = Date.now() + 5000;
  for (const dir of dirs) {
    for (;;) {
      if (!existsSync(dir)) break;
      const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        if (pids.length === 0) {
          rmdirSync(dir);
          break;
        }
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`cannot empty test cgroup ${dir}`);
      await sleep(10);
    }
  }
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
