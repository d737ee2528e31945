/**
 * Two nsbox "hosts" on one machine for export/import and migration tests: each an nsboxd with
 * a state directory, a socket and a cgroup parent of its own, reached through the SDK. On
 * close its boxes are destroyed, nsboxd stops and its cgroups go.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxClient } from '@nsbox/client';
import type { AnyPlugin } from '@nsbox/core';
import { startDaemon } from '@nsbox/daemon';
import { buildBusyboxRootfs, type Cleanup, makeTempDir } from '@nsbox/testkit';
import { COUNTER } from './support.js';

export interface DaemonHost {
  client: NsboxClient;
  socket: string;
  token: string;
  stateDir: string;
  cgroupParent: string;
  action<T = Record<string, unknown>>(name: string, input: Record<string, unknown>): Promise<T>;
}

export async function openDaemonHost(cleanup: Cleanup, plugins: AnyPlugin[], settings: Record<string, unknown> = {}): Promise<DaemonHost> {
  const dir = makeTempDir(cleanup, 'nsboxd');
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings }));
  const cgroupParent = `nsbox-test-mig-${randomBytes(4).toString('hex')}`;
  const socket = join(dir, 'nsbox.sock');
  const daemon = await startDaemon({ stateDir, socket, socketGroup: false, discover: false, cgroupParent, plugins, warn: () => undefined });
  const { NsboxClient } = await import('@nsbox/client');
  // A migration's call lasts the dump, the copy and the restore: on a loaded machine, minutes.
  const client = new NsboxClient({ socketPath: socket, token: daemon.adminToken, timeoutMs: 600_000 });
  cleanup.add(`stop nsboxd of ${stateDir} and remove its boxes`, async () => {
    for (const box of await client.boxes.list().catch(() => [])) await client.boxes.destroy(box.name, { force: true }).catch(() => undefined);
    client.close();
    await daemon.close(1000);
    const { createCgroupDriver } = await import('@nsbox/runtime');
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
  return {
    client,
    socket,
    token: daemon.adminToken,
    stateDir,
    cgroupParent,
    action: (name, input) => client.actions.run('migration', name, input),
  };
}

/**
 * The box's counter (the COUNTER init of support.ts) read through exec. The shell truncates
 * /count before each write: an empty read is that moment, and is read again.
 */
export async function countIn(host: DaemonHost, box: string): Promise<number> {
  for (let tries = 0; ; tries++) {
    const result = await host.client.boxes.exec(box, { command: ['cat', '/count'] });
    if (result.stdout.trim() !== '' || tries >= 10) return Number(result.stdout.trim() || '0');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function countReaches(host: DaemonHost, box: string, above: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let now = 0;
  while (Date.now() < deadline) {
    now = await countIn(host, box).catch(() => 0);
    if (now > above) return now;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return now;
}

/** Creates and starts a busybox box whose init is the counter on the host, once it counts; the cleanup destroys it. */
/**
 * A box whose init is the counter; with `holdBytes`, the init first fills a shell variable of
 * that size, memory it touched and keeps (what a checkpoint has to move).
 */
export async function startCounterBox(cleanup: Cleanup, host: DaemonHost, name: string, options: { holdBytes?: number } = {}) {
  const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
  const hold = options.holdBytes ? `held=$(head -c ${options.holdBytes} /dev/zero | tr '\\0' x); ` : '';
  const config = { rootfs, process: { args: ['sh', '-c', `${hold}${COUNTER}`] }, limits: { pids: 64 } };
  await (await host.client.boxes.create({ name, config })).wait();
  // Before its rootfs directory goes (clean-ups run last added first), the box goes.
  cleanup.add(`destroy box ${name}`, () => host.client.boxes.destroy(name, { force: true }).catch(() => undefined));
  await host.client.boxes.start(name);
  assert.ok((await countReaches(host, name, 4, 10_000)) > 4, 'the counter runs');
  return host.client.boxes.get(name);
}
