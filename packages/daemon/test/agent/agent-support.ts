/**
 * The agent suites' harness: a state dir whose host.json loads the real isolation and limits
 * plugins plus the probe plugins (by path, as a user's host names a plugin file), a real
 * nsboxd process on it — with the API or `--agent` — and the store read straight from disk,
 * so that looking at a box never syncs it (the API's lookups do).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyPlugin, BoxEvent } from '@nsbox/core';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { SqliteStore } from '@nsbox/store';
import { type Cleanup, makeTempDir, repoRoot } from '@nsbox/testkit';
import { cleanupBoxes, testCgroupParent, writeTestHostConfig } from '../daemon-fixture.js';
import { probeBasePlugin } from './probe-base-plugin.js';
import { probePlugin } from './probe-plugin.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The plugins of an agent test's host, for a host opened in this process (a local CLI). */
export const agentTestPlugins: AnyPlugin[] = [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, probeBasePlugin as AnyPlugin, probePlugin as AnyPlugin];

export interface AgentStateDir {
  stateDir: string;
  cgroupParent: string;
  /** The probe plugins' JSON-lines journal. */
  journal: string;
  dir: string;
}

/** A state dir whose boxes, cgroups and mounts are removed after the test. */
export function agentStateDir(cleanup: Cleanup, probe: { failFirstStarts?: number; exitedDelayMs?: number } = {}): AgentStateDir {
  const dir = makeTempDir(cleanup, 'agent');
  const stateDir = join(dir, 'state');
  const journal = join(dir, 'probe.jsonl');
  const settings = { journal, ...probe };
  writeTestHostConfig(stateDir, {
    // The dependent plugin first: the order the services start in comes from `requires`.
    plugins: ['@nsbox/plugin-isolation', '@nsbox/plugin-limits', join(here, 'probe-plugin.ts'), join(here, 'probe-base-plugin.ts')],
    settings: { probe: settings, 'probe-base': settings },
  });
  const cgroupParent = testCgroupParent();
  cleanupBoxes(cleanup, stateDir, cgroupParent);
  return { stateDir, cgroupParent, journal, dir };
}

export interface NsboxdProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/**
 * nsboxd from source as a child process, `--agent` when no socket is given; resolves once it
 * said it is up (after its reconcile and the start of the host services).
 */
export async function spawnNsboxd(cleanup: Cleanup, state: AgentStateDir, options: NsboxdOptions = {}): Promise<NsboxdProcess> {
  const child = startNsboxd(state, options);
  const process = watchProcess(child);
  cleanup.add(`stop nsboxd ${child.pid}`, () => process.stop());
  const deadline = Date.now() + 30_000;
  while (!/nsboxd( --agent)?[: ].*(serving|watching)/.test(process.stderr())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nsboxd did not come up: ${process.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process;
}

/** nsboxd that is expected to refuse to start: its exit code and what it said. */
export async function nsboxdRefusal(state: AgentStateDir, options: NsboxdOptions = {}): Promise<{ code: number | null; stderr: string }> {
  const process = watchProcess(startNsboxd(state, options));
  const timer = setTimeout(() => process.child.kill('SIGKILL'), 30_000);
  const code = await process.exited;
  clearTimeout(timer);
  return { code, stderr: process.stderr() };
}

export interface NsboxdOptions {
  /** Serve the API on this socket; `--agent` without it. */
  socketPath?: string;
  /** Arguments instead of the mode's (a command line that must be refused). */
  args?: string[];
  env?: Record<string, string>;
}

function startNsboxd(state: AgentStateDir, options: NsboxdOptions): ChildProcess {
  const mode = options.args ?? (options.socketPath ? ['--socket', options.socketPath, '--socket-group', 'root'] : ['--agent']);
  return spawn(
    globalThis.process.execPath,
    ['--import', 'tsx', '--conditions=source', join(repoRoot, 'packages/daemon/src/main.ts'), ...mode, '--state-dir', state.stateDir, '--log-level', 'warn'],
    { cwd: repoRoot, env: { ...globalThis.process.env, NSBOX_CGROUP_PARENT: state.cgroupParent, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

function watchProcess(child: ChildProcess): NsboxdProcess {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid as number,
    exited,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The store on disk, opened for each look (another process writes it). */
export function storeOf(state: AgentStateDir): SqliteStore {
  return new SqliteStore({ stateDir: state.stateDir });
}

export function boxState(state: AgentStateDir, name: string): { id: string; state: string; runtime: Record<string, unknown> } | undefined {
  const store = storeOf(state);
  try {
    return store.find(name);
  } finally {
    store.close();
  }
}

export function historyOf(state: AgentStateDir, boxId: string, kind?: string): BoxEvent[] {
  const store = storeOf(state);
  try {
    return store.query({ boxId, ...(kind ? { kind } : {}), limit: 10_000 });
  } finally {
    store.close();
  }
}

/** Waits for a condition on what other processes do; the assertions judge timestamps, not this. */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The shim's record of a box's last init exit. */
export function exitRecord(state: AgentStateDir, boxId: string): { exitCode?: number; signal?: number; at: number } | undefined {
  const file = join(state.stateDir, 'boxes', boxId, 'exit.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/** Sockets a process listens on (unix and TCP): the inodes of its socket fds found listening. */
export function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  const listening: string[] = [];
  // /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; __SO_ACCEPTCON (0x10000) marks a listener.
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] === '00010000' && inodes.has(fields[6] as string)) listening.push(`unix:${fields[7] ?? '(anonymous)'}`);
  }
  for (const table of ['tcp', 'tcp6']) {
    // sl local_address rem_address st ... inode (10th field); st 0A is LISTEN.
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && inodes.has(fields[9] as string)) listening.push(`${table}:${fields[1]}`);
    }
  }
  return listening;
}
