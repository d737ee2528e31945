/**
 * Crash safety: nsboxd runs as a child process, many operations run at once through the SDK,
 * nsboxd gets SIGKILL at a random moment, comes back, and the host must be whole: every box
 * fully there or fully absent, running boxes adopted (never stopped by the crash), half-done
 * operations finished or rolled back, nothing leaked (cgroups, box directories, processes,
 * mounts). Shared by the fast suite and the long one.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import type { Box } from '@nsbox/core';
import { createCgroupDriver, isSameProcess, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { type Cleanup, makeTempDir } from '@nsbox/testkit';
import Database from 'better-sqlite3';
import { adminToken, cleanupBoxes, type DaemonProcess, spawnDaemon, testCgroupParent } from './daemon-fixture.js';

/** A small seeded generator, so that a failing round can be replayed. */
export function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

export interface CrashRig {
  stateDir: string;
  socketPath: string;
  cgroupParent: string;
  daemon?: DaemonProcess;
}

const sleeper = (memory?: number) => ({ template: 'busybox', process: { args: ['sleep', '100000'] }, ...(memory ? { limits: { memory } } : {}) });

export async function startRig(rig: CrashRig): Promise<NsboxClient> {
  rig.daemon = await spawnDaemon(rig);
  return new NsboxClient({ socketPath: rig.socketPath, token: adminToken(rig.stateDir), timeoutMs: 60_000 });
}

/** Fires `count` mixed operations at once (staggered a little) and kills nsboxd meanwhile. */
export async function crashRound(rig: CrashRig, client: NsboxClient, input: { round: number; count: number; seed: number; bystanders: string[] }) {
  const next = random(input.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const existing = (await client.boxes.list()).map((box) => box.name).filter((name) => !input.bystanders.includes(name));
  const fresh: string[] = [];
  const operations: (() => Promise<unknown>)[] = [];
  for (let index = 0; index < input.count; index++) {
    const kind = pick(['create', 'create', 'start', 'stop', 'restart', 'update', 'update', 'destroy', 'exec', 'kill'] as const);
    const target = pick([...existing, ...fresh, ...existing]);
    if (kind === 'create' || target === undefined) {
      const name = `r${input.round}-${index}`;
      fresh.push(name);
      const start = next() < 0.7;
      operations.push(async () => (await client.boxes.create({ name, config: sleeper(next() < 0.5 ? 64 * 1024 * 1024 : undefined), start })).wait());
    } else if (kind === 'start') operations.push(() => client.boxes.start(target));
    else if (kind === 'stop') operations.push(() => client.boxes.stop(target, { timeout: 0 }));
    else if (kind === 'restart') operations.push(() => client.boxes.restart(target, { timeout: 0 }));
    else if (kind === 'update')
      operations.push(() =>
        client.boxes.update(target, next() < 0.5 ? { annotations: { round: String(input.round) } } : { limits: { memory: (32 + index) * 1024 * 1024 } }),
      );
    else if (kind === 'destroy') operations.push(() => client.boxes.destroy(target, { force: true }));
    else if (kind === 'exec') operations.push(() => client.boxes.exec(target, { command: ['sh', '-c', 'echo hi'] }));
    else operations.push(() => client.boxes.kill(target, 'SIGKILL'));
  }
  const killAfter = 50 + Math.floor(next() * 1500);
  const fired = operations.map(
    (operation) =>
      new Promise((resolve) => {
        setTimeout(() => operation().then(resolve, resolve), Math.floor(next() * 400));
      }),
  );
  await new Promise((resolve) => setTimeout(resolve, killAfter));
  rig.daemon?.child.kill('SIGKILL');
  await rig.daemon?.exited;
  await Promise.all(fired);
  client.close();
  return { killAfter };
}

function boxesOf(stateDir: string): { boxes: Box[]; openJournal: number; openApiOperations: number } {
  const db = new Database(join(stateDir, 'nsbox.db'), { readonly: true });
  try {
    const boxes = (
      db.prepare('SELECT * FROM boxes').all() as { id: string; name: string; state: string; runtime: string; config: string; owner: string | null }[]
    ).map(
      (row) =>
        ({
          id: row.id,
          name: row.name,
          state: row.state,
          runtime: JSON.parse(row.runtime),
          config: JSON.parse(row.config),
          owner: row.owner,
        }) as unknown as Box,
    );
    const openJournal = (db.prepare("SELECT COUNT(*) AS n FROM operations WHERE status = 'running'").get() as { n: number }).n;
    const openApiOperations = (db.prepare("SELECT COUNT(*) AS n FROM daemon_operations WHERE status = 'running'").get() as { n: number }).n;
    return { boxes, openJournal, openApiOperations };
  } finally {
    db.close();
  }
}

/** Processes whose command line names the state dir (shims: --box-dir <state>/boxes/<id>), nsboxd aside. */
function shimsOf(stateDir: string, daemonPid: number | undefined): Map<string, number> {
  const shims = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    if (Number(pid) === daemonPid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = cmdline.indexOf('--box-dir');
      if (at >= 0 && cmdline[at + 1]?.startsWith(join(stateDir, 'boxes'))) shims.set((cmdline[at + 1] as string).split('/').at(-1) as string, Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return shims;
}

/** The invariants after a restart; retried for a few seconds while killed processes drain. */
export async function checkInvariants(rig: CrashRig, client: NsboxClient, adopted: Map<string, number>): Promise<{ boxes: number; running: number }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return checkOnce(rig, adopted, await client.boxes.list());
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function checkOnce(rig: CrashRig, adopted: Map<string, number>, listed: { name: string; state: string }[]) {
  const { boxes, openJournal, openApiOperations } = boxesOf(rig.stateDir);
  assert.equal(openJournal, 0, 'every core operation was finished or rolled back');
  assert.equal(openApiOperations, 0, 'every API operation was settled');
  assert.deepEqual(
    listed.map((box) => `${box.name}:${box.state}`).sort(),
    boxes.map((box) => `${box.name}:${box.state}`).sort(),
    'the API shows what the store holds',
  );
  const cgroups = createCgroupDriver({ parent: rig.cgroupParent });
  const cgroupNames = new Set(cgroups.list());
  const dirs = new Set(existsSync(join(rig.stateDir, 'boxes')) ? readdirSync(join(rig.stateDir, 'boxes')) : []);
  const shims = shimsOf(rig.stateDir, rig.daemon?.child.pid);
  const running = boxes.filter((box) => box.state === 'running');
  for (const box of boxes) {
    assert.ok(['created', 'running', 'stopped'].includes(box.state), `${box.name} is ${box.state}: not a whole state`);
    assert.ok(dirs.has(box.id) && existsSync(join(rig.stateDir, 'boxes', box.id, 'rootfs', 'bin')), `${box.name} has its whole rootfs`);
    const runtime = box.runtime as LinuxRuntimeFacts;
    if (box.state === 'running') {
      assert.ok(isSameProcess(runtime.init), `${box.name}'s init runs`);
      assert.ok(cgroupNames.has(box.id) && cgroups.pids(box.id).includes(runtime.init?.pid as number), `${box.name}'s init is in its cgroup`);
      assert.ok(shims.has(box.id), `${box.name} has its shim`);
    } else {
      assert.ok(!cgroupNames.has(box.id), `${box.name} (${box.state}) has no cgroup left`);
      assert.ok(!shims.has(box.id), `${box.name} (${box.state}) has no shim left`);
    }
  }
  const ids = new Set(boxes.map((box) => box.id));
  assert.deepEqual(
    [...cgroupNames].filter((name) => !ids.has(name)),
    [],
    'no cgroup without a box',
  );
  assert.deepEqual(
    [...dirs].filter((dir) => !ids.has(dir)),
    [],
    'no box directory without a box',
  );
  assert.deepEqual(
    [...shims.keys()].filter((id) => !running.some((box) => box.id === id)),
    [],
    'no shim without a running box',
  );
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(rig.stateDir));
  assert.deepEqual(mounts, [], 'no mount left under the state dir');
  for (const [name, pid] of adopted) {
    const box = boxes.find((candidate) => candidate.name === name);
    assert.equal(box?.state, 'running', `bystander ${name} still runs`);
    assert.equal((box?.runtime as LinuxRuntimeFacts | undefined)?.init?.pid, pid, `bystander ${name} kept its init`);
  }
  return { boxes: boxes.length, running: running.length };
}

/** Boxes no operation touches: they must run on, with the same init, through every crash. */
export async function startBystanders(client: NsboxClient, names: string[]): Promise<Map<string, number>> {
  const adopted = new Map<string, number>();
  for (const name of names) {
    const box = await (await client.boxes.create({ name, config: sleeper(), start: true })).wait();
    adopted.set(name, box.runtime.init?.pid as number);
  }
  return adopted;
}

/** Some boxes for the operations to work on. */
export async function seedBoxes(client: NsboxClient, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, index) => (await client.boxes.create({ name: `seed-${index}`, config: sleeper(), start: index % 2 === 0 })).wait()),
  );
}

/** The whole crash test: seed boxes and bystanders, then rounds of operations, kill, restart, check. */
export function crashSuite(input: { rounds: number; operations: number; seed: number }) {
  return async function (this: Mocha.Context) {
    const cleanup = (this as unknown as { cleanup: Cleanup }).cleanup;
    const dir = makeTempDir(cleanup, 'crash');
    const rig: CrashRig = { stateDir: join(dir, 'state'), socketPath: join(dir, 'nsbox.sock'), cgroupParent: testCgroupParent() };
    mkdirSync(rig.stateDir, { recursive: true });
    cleanupBoxes(cleanup, rig.stateDir, rig.cgroupParent);
    cleanup.add('kill nsboxd', () => rig.daemon?.child.kill('SIGKILL'));

    let client = await startRig(rig);
    const adopted = await startBystanders(client, ['bystander-1', 'bystander-2']);
    await seedBoxes(client, 6);
    for (let round = 1; round <= input.rounds; round++) {
      const { killAfter } = await crashRound(rig, client, { round, count: input.operations, seed: input.seed + round, bystanders: [...adopted.keys()] });
      client = await startRig(rig);
      const found = await checkInvariants(rig, client, adopted).catch((error: Error) => {
        throw new Error(`round ${round} (seed ${input.seed + round}, killed after ${killAfter} ms): ${error.message}\n${rig.daemon?.stderr() ?? ''}`);
      });
      assert.ok(found.running >= adopted.size);
    }
    // And the host still works after all that.
    const after = await (
      await client.boxes.create({ name: 'after-the-crashes', config: { template: 'busybox', process: { args: ['sleep', '100'] } }, start: true })
    ).wait();
    assert.equal(after.state, 'running');
    assert.equal((await client.boxes.exec('bystander-1', { command: ['hostname'] })).stdout, 'bystander-1\n');
    client.close();
  };
}
