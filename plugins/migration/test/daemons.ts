/**
 * nsboxd as a real child process (for SIGKILL), with the isolation, limits and migration
 * plugins named in its host.json as a user's host names them, its own state dir, socket and
 * cgroup parent. `NSBOX_MIGRATION_PAUSE_AT` (crash-seam.ts) can stop it at a phase. On
 * cleanup its boxes are destroyed (through a fresh nsboxd when it was killed), it stops, and
 * its cgroups go.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { type Cleanup, makeTempDir, repoRoot } from '@nsbox/testkit';
import Database from 'better-sqlite3';
import { waitForDaemon } from '../../../packages/daemon/test/daemon-fixture.js';
import type { DaemonHost } from './hosts.js';

const PLUGINS = ['@nsbox/plugin-isolation', '@nsbox/plugin-limits', '@nsbox/plugin-migration'];

export interface DaemonProcessHost extends DaemonHost {
  child: ChildProcess;
  /** (Re)starts nsboxd on the same state dir and socket; `pauseAt` sets the crash seam. */
  start(pauseAt?: string): Promise<void>;
  /** SIGKILL, and its exit awaited. */
  kill(): Promise<void>;
  /** The phase the seam stopped at, once it did. */
  paused(): string | undefined;
  /** Its migration records (the plugin's database), read-only. */
  records(): { outgoing: { phase: string; outcome: string | null; imageDir: string | null }[]; incoming: { phase: string }[] };
  stderr(): string;
}

export interface DaemonProcessOptions {
  settings?: Record<string, unknown>;
  /** Runs nsboxd inside this network namespace (`nsenter --net`). */
  netns?: string;
  /** Also serves HTTP (no TLS) on HOST:PORT there. */
  tcp?: string;
}

export async function spawnDaemonHost(cleanup: Cleanup, options: DaemonProcessOptions = {}): Promise<DaemonProcessHost> {
  const settings = options.settings ?? {};
  const dir = makeTempDir(cleanup, 'nsboxd');
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, plugins: PLUGINS, settings }));
  const cgroupParent = `nsbox-test-mig-${randomBytes(4).toString('hex')}`;
  const socket = join(dir, 'nsbox.sock');
  let stderr = '';
  const host = {
    socket,
    stateDir,
    cgroupParent,
    token: '',
    stderr: () => stderr,
  } as DaemonProcessHost;
  host.start = async (pauseAt) => {
    rmSync(join(stateDir, 'migration', 'paused'), { force: true });
    const args = ['--import', 'tsx', '--conditions=source', join(repoRoot, 'packages/daemon/src/main.ts')];
    args.push('--socket', socket, '--state-dir', stateDir, '--socket-group', 'root', '--log-level', 'warn');
    if (options.tcp) args.push('--tcp', options.tcp, '--tcp-insecure');
    const env: NodeJS.ProcessEnv = { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent };
    if (pauseAt) env.NSBOX_MIGRATION_PAUSE_AT = pauseAt;
    else delete env.NSBOX_MIGRATION_PAUSE_AT;
    // nsenter, not `ip netns exec`: that remounts /sys, and the cgroup hierarchies under it with it.
    const [command, argv] = options.netns ? ['nsenter', [`--net=/run/netns/${options.netns}`, process.execPath, ...args]] : [process.execPath, args];
    const child = spawn(command, argv, { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    host.child = child;
    await waitForDaemon(socket, child, () => stderr, 60_000);
    host.token = readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
    host.client?.close();
    // A migration's call lasts the dump, the copy and the restore: on a loaded machine, minutes.
    host.client = new NsboxClient({ socketPath: socket, token: host.token, timeoutMs: 600_000 });
  };
  host.kill = async () => {
    const child = host.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  host.paused = () => {
    const file = join(stateDir, 'migration', 'paused');
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  };
  host.records = () => {
    const file = join(stateDir, 'plugins', 'migration', 'migration.db');
    if (!existsSync(file)) return { outgoing: [], incoming: [] };
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return {
        outgoing: db.prepare('SELECT phase, outcome, image_dir AS imageDir FROM outgoing').all() as {
          phase: string;
          outcome: string | null;
          imageDir: string | null;
        }[],
        incoming: db.prepare('SELECT phase FROM incoming').all() as { phase: string }[],
      };
    } finally {
      db.close();
    }
  };
  host.action = (name, input) => host.client.actions.run('migration', name, input);
  cleanup.add(`stop nsboxd of ${stateDir} and remove its boxes`, async () => {
    // A daemon a test left paused or killed: a fresh one settles its migrations and destroys its boxes.
    if (host.child && (host.paused() !== undefined || host.child.exitCode !== null || host.child.signalCode !== null)) {
      await host.kill();
      await host.start().catch(() => undefined);
    }
    for (const box of await host.client.boxes.list().catch(() => [])) await host.client.boxes.destroy(box.name, { force: true }).catch(() => undefined);
    host.client.close();
    if (host.child && host.child.exitCode === null) {
      const exited = new Promise((resolve) => host.child.once('exit', resolve));
      host.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await host.kill();
    }
    const { createCgroupDriver } = await import('@nsbox/runtime');
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
  await host.start();
  return host;
}
