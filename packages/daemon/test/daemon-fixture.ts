/**
 * A real nsboxd on a real unix socket in a temporary directory, with its own cgroup parent,
 * in this process (startDaemon) or as a child process (for kill -9), loading the real
 * isolation and limits plugins the way a user's host does: named by package in the state
 * dir's host.json. Everything it made (boxes, cgroups, uid ranges, disk images, loop devices)
 * is removed after the test, even when the test failed.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { createCgroupDriver, LinuxBoxDriver } from '@nsbox/runtime';
import { type Cleanup, type CliRunOptions, type CliRunResult, cliArgs, makeTempDir, repoRoot } from '@nsbox/testkit';
import { type RunningDaemon, startDaemon, type TcpListen } from '../src/index.js';

/** The plugin packages a host of nsbox users has installed, named as its host.json names them. */
export const hostPluginPackages = ['@nsbox/plugin-isolation', '@nsbox/plugin-limits'];

/** The host config of every test daemon (and of a CLI or child nsboxd on its state dir). */
export const testHostConfig = { discover: false, plugins: hostPluginPackages };

/**
 * The same packages as this process imported them. An nsboxd in this process gets them in
 * code as well (given plugins win over the host config's copies): under mocha the test
 * files load through require, a host config's plugins through import(), and the two module
 * graphs would hold two copies of @nsbox/core, so that a plugin's NsboxError would not be
 * one to the daemon. A child nsboxd, a CLI and any real host have one graph.
 */
const hostPlugins: AnyPlugin[] = [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin];

/**
 * The real limits plugin (the test daemon loads it anyway, through its host config).
 * @deprecated kept for tests written against the former stand-in; pass nothing instead.
 */
export function testLimitsPlugin(): AnyPlugin {
  return limitsPlugin as AnyPlugin;
}

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

/** Loop devices whose backing file lies under `dir` (a box's disk image), with that file. */
export function loopDevicesUnder(dir: string): { device: string; file: string }[] {
  return execFileSync('losetup', ['--list', '--noheadings', '--raw', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^(\S+) (.+)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ device: match[1] as string, file: (match[2] as string).replace(/ \(deleted\)$/, '') }))
    .filter((loop) => loop.file.startsWith(`${dir}/`));
}

/** Mount points under `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes every box of a state dir through a host of its own (its host.json loads the
 * plugins, whose destroy hooks free uid ranges and delete disk images), then the cgroup
 * parent, then whatever a failed test left mounted or attached under the state dir.
 */
export function cleanupBoxes(cleanup: Cleanup, stateDir: string, cgroupParent: string): void {
  cleanup.add(`remove the boxes, cgroups, mounts and loop devices of ${stateDir}`, async () => {
    if (existsSync(join(stateDir, 'nsbox.db'))) {
      const host = await openHost({ stateDir, discover: false, plugins: hostPlugins, driver: new LinuxBoxDriver({ stateDir, cgroupParent }) });
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
    for (const point of mountsUnder(stateDir)) execFileSync('umount', ['-l', point]);
    for (const loop of loopDevicesUnder(stateDir)) execFileSync('losetup', ['-d', loop.device]);
  });
}

/** Writes the test host config into a state dir, with a test's own fields on top. */
export function writeTestHostConfig(stateDir: string, extra: Record<string, unknown> = {}): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ ...testHostConfig, ...extra }));
}

export async function startTestDaemon(
  cleanup: Cleanup,
  options: { plugins?: AnyPlugin[]; stateDir?: string; hostConfig?: Record<string, unknown>; tcp?: TcpListen; socket?: boolean } = {},
): Promise<TestDaemon> {
  const dir = makeTempDir(cleanup, 'nsboxd');
  const stateDir = options.stateDir ?? join(dir, 'state');
  writeTestHostConfig(stateDir, options.hostConfig);
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
      plugins: [...(options.plugins ?? []), ...hostPlugins],
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

/** nsboxd as a child process (from source), for tests that kill it. */
export interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

/** node's arguments for nsboxd from source on a test's socket and state dir. */
export function daemonArgs(input: { stateDir: string; socketPath: string }): string[] {
  return [
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
  ];
}

export async function spawnDaemon(input: { stateDir: string; socketPath: string; cgroupParent: string }): Promise<DaemonProcess> {
  // The child loads the real plugins by package name, as a user's host config names them.
  writeTestHostConfig(input.stateDir);
  const child = spawn(process.execPath, daemonArgs(input), {
    cwd: repoRoot,
    env: { ...process.env, NSBOX_CGROUP_PARENT: input.cgroupParent },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitForDaemon(input.socketPath, child, () => stderr, 30_000);
  return { child, exited, stderr: () => stderr };
}

/** Until a child nsboxd answers on its socket; its stderr in the error when it exits or the time runs out. */
export async function waitForDaemon(socketPath: string, child: ChildProcess, stderr: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new NsboxClient({ socketPath, timeoutMs: 2000 });
    const up = await probe.health().then(
      () => true,
      () => false,
    );
    probe.close();
    if (up) return;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nsboxd did not come up: ${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function adminToken(stateDir: string): string {
  return readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
}

export function readMemoryLimit(cgroupParent: string, boxId: string): string {
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  const v2 = cgroups.layout.v1.memory === undefined;
  return cgroups.read(boxId, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes').trim();
}

/** The real CLI in a child process; never spawnSync, which would stall the nsboxd of this process. */
export function runCli(args: string[], options: CliRunOptions): Promise<CliRunResult> {
  const child = spawn(process.execPath, cliArgs(args, options), {
    cwd: repoRoot,
    env: { ...process.env, NSBOX_CGROUP_PARENT: options.cgroupParent, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(options.input ?? '');
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}
