/**
 * A real nsboxd on a real unix socket in a temporary directory, with its own cgroup parent,
 * in this process (startDaemon) or as a child process (for kill -9). Everything it made is
 * removed after the test, even when the test failed.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { createCgroupDriver, LinuxBoxDriver } from '@nsbox/runtime';
import { type Cleanup, makeTempDir, repoRoot } from '@nsbox/testkit';
import { type RunningDaemon, startDaemon, type TcpListen } from '../src/index.js';

export { testLimitsPlugin } from './test-limits-plugin.js';

export interface TestDaemon {
  daemon: RunningDaemon;
  client: NsboxClient;
  socketPath: string;
  stateDir: string;
  cgroupParent: string;
  clientFor(token: string): NsboxClient;
  /** Stops this daemon and starts another on the same state dir and socket (a restart). */
  restart(): Promise<void>;
}

export function testCgroupParent(): string {
  return `nsbox-test-${randomBytes(4).toString('hex')}`;
}

/** Removes every box of a state dir (through a host of its own), then the cgroup parent. */
export function cleanupBoxes(cleanup: Cleanup, stateDir: string, cgroupParent: string): void {
  cleanup.add(`remove the boxes and cgroups of ${stateDir}`, async () => {
    if (existsSync(join(stateDir, 'nsbox.db'))) {
      const host = await openHost({ stateDir, discover: false, driver: new LinuxBoxDriver({ stateDir, cgroupParent }) });
      try {
        await host.manager.reconcile().catch(() => undefined);
        for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
      } finally {
        host.close();
      }
    }
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
}

export async function startTestDaemon(
  cleanup: Cleanup,
  options: { plugins?: AnyPlugin[]; stateDir?: string; hostConfig?: Record<string, unknown>; tcp?: TcpListen; socket?: boolean } = {},
): Promise<TestDaemon> {
  const dir = makeTempDir(cleanup, 'nsboxd');
  const stateDir = options.stateDir ?? join(dir, 'state');
  if (options.hostConfig) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(stateDir, 'host.json'), JSON.stringify(options.hostConfig));
  }
  const socketPath = join(dir, 'nsbox.sock');
  const cgroupParent = testCgroupParent();
  cleanupBoxes(cleanup, stateDir, cgroupParent);
  const start = () =>
    startDaemon({
      stateDir,
      socket: options.socket === false ? false : socketPath,
      socketGroup: false,
      discover: false,
      cgroupParent,
      plugins: options.plugins ?? [],
      warn: () => undefined,
      ...(options.tcp ? { tcp: options.tcp } : {}),
    });
  const clients: NsboxClient[] = [];
  const clientFor = (token: string) => {
    const client = new NsboxClient({ socketPath, token });
    clients.push(client);
    return client;
  };
  const fixture: TestDaemon = {
    daemon: await start(),
    client: undefined as unknown as NsboxClient,
    socketPath,
    stateDir,
    cgroupParent,
    clientFor,
    async restart() {
      await fixture.daemon.close(1000);
      fixture.daemon = await start();
    },
  };
  fixture.client = clientFor(fixture.daemon.adminToken);
  cleanup.add('stop nsboxd', async () => {
    for (const client of clients) client.close();
    await fixture.daemon.close(1000);
  });
  return fixture;
}

/** The host config that makes a CLI (or a child nsboxd) load the same stand-in plugin. */
export const testHostConfig = { discover: false, plugins: [join(repoRoot, 'packages/daemon/test/test-limits-plugin.ts')] };

/** nsboxd as a child process (from source), for tests that kill it. */
export interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

export async function spawnDaemon(input: { stateDir: string; socketPath: string; cgroupParent: string }): Promise<DaemonProcess> {
  // The child loads the stand-in limits plugin from source, as a host config names a plugin.
  writeFileSync(join(input.stateDir, 'host.json'), JSON.stringify(testHostConfig));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=source',
      join(repoRoot, 'packages/daemon/src/main.ts'),
      '--socket',
      input.socketPath,
      '--state-dir',
      input.stateDir,
      '--socket-group',
      'root',
      '--log-level',
      'warn',
    ],
    { cwd: repoRoot, env: { ...process.env, NSBOX_CGROUP_PARENT: input.cgroupParent }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = new NsboxClient({ socketPath: input.socketPath, timeoutMs: 2000 });
    const up = await probe.health().then(
      () => true,
      () => false,
    );
    probe.close();
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nsboxd did not come up: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, exited, stderr: () => stderr };
}

export function adminToken(stateDir: string): string {
  return readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
}

export function readMemoryLimit(cgroupParent: string, boxId: string): string {
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  const v2 = cgroups.layout.v1.memory === undefined;
  return cgroups.read(boxId, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes').trim();
}
