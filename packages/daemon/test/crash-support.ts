/**
 * Crash safety: nsboxd runs as a child process with the real isolation and limits plugins,
 * many operations run at once through the SDK, nsboxd gets SIGKILL while they are in flight,
 * comes back, and the host must be whole: every box fully there or fully absent, running boxes
 * adopted (never stopped by the crash), half-done operations finished or rolled back, nothing
 * leaked (cgroups and the BPF programs on them, box directories, processes, mounts, uid
 * ranges, disk images, loop devices). Shared by the fast suite and the long one.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import type { Box } from '@nsbox/core';
import type { BoxIdRanges } from '@nsbox/plugin-isolation';
import type { DiskRecord } from '@nsbox/plugin-limits';
import { createCgroupDriver, isSameProcess, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { type Cleanup, makeTempDir } from '@nsbox/testkit';
import Database from 'better-sqlite3';
import { adminToken, cleanupBoxes, type DaemonProcess, loopDevicesUnder, mountsUnder, spawnDaemon, testCgroupParent } from './daemon-fixture.js';

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
  /** Each box's uid range slot as first seen: a range is the box's for good. */
  ranges: Map<string, number>;
  /** Disk records seen over the run (so that the disk checks were not vacuous). */
  disksSeen: number;
}

const MiB = 1024 * 1024;
/** Above the limits plugin's smallest image (16 MiB), far above what a busybox rootfs takes. */
export const DISK = 32 * MiB;

interface SleeperLimits {
  memory?: number;
  disk?: number;
}

export const sleeper = (limits: SleeperLimits = {}) => ({
  template: 'busybox',
  process: { args: ['sleep', '100000'] },
  ...(Object.keys(limits).length > 0 ? { limits } : {}),
});

export async function startRig(rig: CrashRig): Promise<NsboxClient> {
  rig.daemon = await spawnDaemon(rig);
  return new NsboxClient({ socketPath: rig.socketPath, token: adminToken(rig.stateDir), timeoutMs: 60_000 });
}

interface StoreRows {
  boxes: Box[];
  openJournal: { id: number; kind: string; boxId: string }[];
  openApiOperations: string[];
  pluginState: { namespace: string; key: string; value: string }[];
}

export function readStore(stateDir: string): StoreRows {
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
    const openJournal = db.prepare("SELECT id, kind, box_id AS boxId FROM operations WHERE status = 'running'").all() as StoreRows['openJournal'];
    const openApiOperations = (db.prepare("SELECT id FROM daemon_operations WHERE status = 'running'").all() as { id: string }[]).map((row) => row.id);
    const pluginState = db.prepare('SELECT namespace, key, value FROM plugin_state').all() as StoreRows['pluginState'];
    return { boxes, openJournal, openApiOperations, pluginState };
  } finally {
    db.close();
  }
}

/** How the core journal and the API operations ended that a kill left open. */
function settlement(stateDir: string, journalIds: number[], apiIds: string[]): { journal: string[]; api: string[] } {
  const db = new Database(join(stateDir, 'nsbox.db'), { readonly: true });
  try {
    const journal = journalIds.map(
      (id) => (db.prepare('SELECT status FROM operations WHERE id = ?').get(id) as { status: string } | undefined)?.status ?? 'gone',
    );
    const api = apiIds.map(
      (id) => (db.prepare('SELECT status FROM daemon_operations WHERE id = ?').get(id) as { status: string } | undefined)?.status ?? 'gone',
    );
    return { journal, api };
  } finally {
    db.close();
  }
}

export interface KillReport {
  killAfter: number;
  /** Requests sent before the kill (all of the round's). */
  sent: number;
  /** Requests nsboxd had not answered when it died. */
  unanswered: number;
  /** Core journal entries and API operations left open by the kill. */
  openJournal: { id: number; kind: string; boxId: string }[];
  openApiOperations: string[];
}

/**
 * Fires `count` mixed operations at once (staggered a little), then kills nsboxd while the
 * store holds operations in flight, and reports what the kill interrupted.
 */
export async function crashRound(
  rig: CrashRig,
  client: NsboxClient,
  input: { round: number; count: number; seed: number; bystanders: string[] },
): Promise<KillReport> {
  const next = random(input.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const limitsFor = (): SleeperLimits => ({ ...(next() < 0.5 ? { memory: 64 * MiB } : {}), ...(next() < 0.35 ? { disk: DISK } : {}) });
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
      const config = sleeper(limitsFor());
      operations.push(async () => (await client.boxes.create({ name, config, start })).wait());
    } else if (kind === 'start') operations.push(() => client.boxes.start(target));
    else if (kind === 'stop') operations.push(() => client.boxes.stop(target, { timeout: 0 }));
    else if (kind === 'restart') operations.push(() => client.boxes.restart(target, { timeout: 0 }));
    else if (kind === 'update') {
      // A whole new limits section: a disk limit may come, stay, change or go (stopped boxes move their files).
      const changes =
        next() < 0.4
          ? { annotations: { round: String(input.round) } }
          : { limits: { memory: (32 + index) * MiB, ...(next() < 0.5 ? { disk: DISK + index * MiB } : {}) } };
      operations.push(() => client.boxes.update(target, changes));
    } else if (kind === 'destroy') operations.push(() => client.boxes.destroy(target, { force: true }));
    else if (kind === 'exec') operations.push(() => client.boxes.exec(target, { command: ['sh', '-c', 'echo hi'] }));
    else operations.push(() => client.boxes.kill(target, 'SIGKILL'));
  }
  const spread = 300;
  let sent = 0;
  let pending = 0;
  const fired = operations.map(
    (operation) =>
      new Promise((resolve) => {
        setTimeout(
          () => {
            sent += 1;
            pending += 1;
            operation()
              .finally(() => {
                pending -= 1;
              })
              .then(resolve, resolve);
          },
          Math.floor(next() * spread),
        );
      }),
  );
  // Every request is out before the kill, which lands at a random moment after — or sooner,
  // once few requests are left unanswered (on a quick machine all could be answered before
  // that moment, and the kill would cut nothing short) — while an operation is in flight.
  const killAfter = spread + 20 + Math.floor(next() * 1200);
  const fewLeft = Math.max(1, Math.floor(input.count / 10));
  const began = Date.now();
  const deadline = began + killAfter + 20_000;
  for (;;) {
    const due = sent === input.count && (Date.now() - began >= killAfter || pending <= fewLeft);
    if (Date.now() > deadline) break;
    if (due) {
      // Stopped while the store is read: an operation seen open cannot finish before the kill
      // (read while nsboxd ran, it sometimes did — the kill then hit nothing in flight).
      rig.daemon?.child.kill('SIGSTOP');
      if (readStore(rig.stateDir).openJournal.length > 0) break;
      rig.daemon?.child.kill('SIGCONT');
    }
    await new Promise((resolve) => setTimeout(resolve, due ? 1 : 5));
  }
  const killedAfter = Date.now() - began;
  const unanswered = pending;
  const sentBeforeKill = sent;
  rig.daemon?.child.kill('SIGKILL');
  await rig.daemon?.exited;
  // Read after the process is gone: exactly what it had not finished when it died.
  const { openJournal, openApiOperations } = readStore(rig.stateDir);
  await Promise.all(fired);
  client.close();
  return { killAfter: killedAfter, sent: sentBeforeKill, unanswered, openJournal, openApiOperations };
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

/** The names in an ext4 image's root directory (read with debugfs, without mounting it). */
export function ext4Root(image: string): string[] {
  const out = execFileSync('debugfs', ['-R', 'ls /', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return [...out.matchAll(/\d+\s+\(\d+\)\s+(\S+)/g)].map((match) => match[1] as string).filter((name) => name !== '.' && name !== '..');
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
  const { boxes, openJournal, openApiOperations, pluginState } = readStore(rig.stateDir);
  assert.deepEqual(openJournal, [], 'every core operation was finished or rolled back');
  assert.deepEqual(openApiOperations, [], 'every API operation was settled');
  assert.deepEqual(
    listed.map((box) => `${box.name}:${box.state}`).sort(),
    boxes.map((box) => `${box.name}:${box.state}`).sort(),
    'the API shows what the store holds',
  );
  const ids = new Set(boxes.map((box) => box.id));
  const running = boxes.filter((box) => box.state === 'running');
  const runningIds = new Set(running.map((box) => box.id));
  const nameOf = (id: string) => boxes.find((box) => box.id === id)?.name ?? `gone box ${id}`;

  // The limits plugin's disk records; images and loop devices must match them.
  const disks = new Map(pluginState.filter((row) => row.namespace === 'limits.disk').map((row) => [row.key, JSON.parse(row.value) as DiskRecord]));
  const images = new Map([...disks].filter((entry): entry is [string, Extract<DiskRecord, { backend: 'image' }>] => entry[1].backend === 'image'));
  rig.disksSeen += disks.size;
  assert.deepEqual(
    [...disks.keys()].filter((id) => !ids.has(id)),
    [],
    'no disk record of a box that is gone',
  );

  const cgroups = createCgroupDriver({ parent: rig.cgroupParent });
  const cgroupNames = new Set(cgroups.list());
  const dirs = new Set(existsSync(join(rig.stateDir, 'boxes')) ? readdirSync(join(rig.stateDir, 'boxes')) : []);
  const shims = shimsOf(rig.stateDir, rig.daemon?.child.pid);
  for (const box of boxes) {
    assert.ok(['created', 'running', 'stopped'].includes(box.state), `${box.name} is ${box.state}: not a whole state`);
    assert.ok(dirs.has(box.id), `${box.name} has its directory`);
    const boxDir = join(rig.stateDir, 'boxes', box.id);
    const image = images.get(box.id);
    if (image === undefined) assert.ok(existsSync(join(boxDir, 'rootfs', 'bin')), `${box.name} has its whole rootfs`);
    else if (box.state === 'running') assert.ok(existsSync(join(boxDir, 'disk', 'bin')), `${box.name} runs on its mounted disk image`);
    else {
      assert.ok(existsSync(image.image), `${box.name} (${box.state}) has the disk image its record names`);
      // Read off the file only once no filesystem holds it: a live one (a mount that leaked, or
      // one still in use) has not written its latest metadata back, and would read as empty.
      assert.deepEqual(loopsBackedBy(image.image), [], `${box.name} (${box.state})'s image is on no loop device`);
      // The image holds the box's files (the seed directory was emptied into it).
      if (image.fs === 'ext4') {
        const root = ext4Root(image.image);
        assert.ok(root.includes('bin'), `${box.name}'s image holds its rootfs (its root: ${root.join(' ') || 'unreadable'})`);
      }
    }
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
  assert.deepEqual(
    [...cgroupNames].filter((name) => !ids.has(name)),
    [],
    'no cgroup without a box',
  );
  // The device (and IP) BPF programs attach to a box's cgroup2 directory and go with it.
  const unified = cgroups.layout.unified;
  if (unified) {
    const unifiedDirs = new Set(boxes.map((box) => cgroups.get(box.id)?.unifiedDir).filter((dir): dir is string => dir !== undefined && existsSync(dir)));
    for (const box of running) assert.ok(unifiedDirs.has(cgroups.get(box.id)?.unifiedDir as string), `${box.name} has its cgroup2 directory`);
    assert.equal(unifiedDirs.size, running.length, 'no cgroup2 directory, and so no BPF program, of a box that does not run');
  }
  assert.deepEqual(
    [...dirs].filter((dir) => !ids.has(dir)),
    [],
    'no box directory without a box',
  );
  assert.deepEqual(
    [...shims.keys()].filter((id) => !runningIds.has(id)),
    [],
    'no shim without a running box',
  );

  // uid ranges (the isolation plugin's claims): none held for a box that is gone, each
  // running box's init maps exactly the range claimed for it, and a range never moves.
  const isolation = pluginState.filter((row) => row.namespace === 'isolation');
  const claims = new Map(isolation.filter((row) => row.key.startsWith('slot:')).map((row) => [Number(row.key.slice('slot:'.length)), row.value]));
  const recorded = new Map(
    isolation.filter((row) => row.key.startsWith('box:')).map((row) => [row.key.slice('box:'.length), JSON.parse(row.value) as BoxIdRanges]),
  );
  assert.deepEqual(
    [...claims].filter(([, id]) => !ids.has(id)).map(([slot, id]) => `slot ${slot}: ${id}`),
    [],
    'no uid range claimed by a box that is gone',
  );
  assert.deepEqual(
    [...recorded.keys()].filter((id) => !ids.has(id)),
    [],
    'no uid range recorded for a box that is gone',
  );
  for (const [id, ranges] of recorded) {
    assert.equal(claims.get(ranges.slot), id, `${nameOf(id)}'s range (slot ${ranges.slot}) is claimed by it`);
    const first = rig.ranges.get(id);
    if (first !== undefined) assert.equal(ranges.slot, first, `${nameOf(id)} keeps its uid range`);
    rig.ranges.set(id, ranges.slot);
  }
  for (const id of rig.ranges.keys()) {
    if (!ids.has(id)) rig.ranges.delete(id);
    else assert.ok(recorded.has(id), `${nameOf(id)} still holds its uid range`);
  }
  for (const box of running) {
    const [inside, outside, size] = readFileSync(`/proc/${(box.runtime as LinuxRuntimeFacts).init?.pid}/uid_map`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const ranges = recorded.get(box.id);
    assert.ok(ranges, `running ${box.name} has a uid range`);
    assert.deepEqual({ inside, outside, size }, { inside: 0, outside: ranges.uid.hostID, size: ranges.uid.size }, `${box.name}'s init maps its claimed range`);
  }

  // Disk images, loop devices and mounts (the limits plugin's image backend).
  const pools = join(rig.stateDir, 'pools');
  const imageFiles = existsSync(pools) ? readdirSync(pools).flatMap((pool) => readdirSync(join(pools, pool)).map((file) => join(pools, pool, file))) : [];
  assert.deepEqual(
    imageFiles.filter((file) => !ids.has((file.split('/').at(-1) as string).replace(/\.img(\.new)?$/, ''))),
    [],
    'no disk image file of a box that is gone',
  );
  const loops = loopDevicesUnder(rig.stateDir);
  assert.deepEqual(
    loops
      .filter((loop) => ![...images].some(([id, image]) => image.image === loop.file && runningIds.has(id)))
      .map((loop) => {
        const id = (loop.file.split('/').at(-1) as string).replace(/\.img(\.new)?$/, '');
        const box = boxes.find((candidate) => candidate.id === id);
        const mounted = mountsUnder(rig.stateDir).filter((point) => point.includes(id));
        return `${loop.device} ${loop.file} (${box ? `${box.name} ${box.state}` : 'no box'}, ${disks.has(id) ? 'recorded' : 'no disk record'}, mounted at ${mounted.join(' ') || 'nothing'})`;
      }),
    [],
    'no loop device but those of running boxes with a disk image',
  );
  for (const [id, image] of images) {
    if (runningIds.has(id)) assert.equal(loops.filter((loop) => loop.file === image.image).length, 1, `${nameOf(id)}'s image is on one loop device`);
  }
  const expectedMounts = [...images.keys()].filter((id) => runningIds.has(id)).map((id) => join(rig.stateDir, 'boxes', id, 'disk'));
  assert.deepEqual(mountsUnder(rig.stateDir).sort(), expectedMounts.sort(), 'no mount under the state dir but the disks of running boxes');

  for (const [name, pid] of adopted) {
    const box = boxes.find((candidate) => candidate.name === name);
    assert.equal(box?.state, 'running', `bystander ${name} still runs`);
    assert.equal((box?.runtime as LinuxRuntimeFacts | undefined)?.init?.pid, pid, `bystander ${name} kept its init`);
  }
  return { boxes: boxes.length, running: running.length };
}

/**
 * The checks can fail: each kind of leak the plugins could leave is planted in turn (a uid
 * range claimed and one recorded for a box that is gone, a disk image of a gone box, a loop
 * device on a file of the state dir) and must be named; the host is whole again after.
 */
export async function plantedLeaksAreCaught(rig: CrashRig, client: NsboxClient, adopted: Map<string, number>): Promise<void> {
  const listed = await client.boxes.list();
  const check = () => checkOnce(rig, adopted, listed);
  const gone = randomUUID();
  const plantState = (key: string, value: string) => {
    const db = new Database(join(rig.stateDir, 'nsbox.db'));
    try {
      db.prepare("INSERT INTO plugin_state (namespace, key, value) VALUES ('isolation', ?, ?)").run(key, value);
    } finally {
      db.close();
    }
    return () => {
      const undo = new Database(join(rig.stateDir, 'nsbox.db'));
      try {
        undo.prepare("DELETE FROM plugin_state WHERE namespace = 'isolation' AND key = ?").run(key);
      } finally {
        undo.close();
      }
    };
  };
  const planted: { what: string; plant: () => () => void; named: RegExp }[] = [
    { what: 'a uid range claim', plant: () => plantState('slot:4095', gone), named: /no uid range claimed by a box that is gone/ },
    {
      what: 'a uid range record',
      plant: () => plantState(`box:${gone}`, JSON.stringify({ slot: 4095, uid: { hostID: 1, size: 1 }, gid: { hostID: 1, size: 1 } })),
      named: /no uid range recorded for a box that is gone/,
    },
    {
      what: 'a disk image',
      plant: () => {
        const file = join(rig.stateDir, 'pools', 'default', `${gone}.img`);
        mkdirSync(join(rig.stateDir, 'pools', 'default'), { recursive: true });
        writeFileSync(file, '');
        return () => rmSync(file);
      },
      named: /no disk image file of a box that is gone/,
    },
    {
      what: 'a loop device',
      plant: () => {
        const file = join(rig.stateDir, `${gone}.img`);
        writeFileSync(file, Buffer.alloc(MiB));
        const device = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
        return () => {
          execFileSync('losetup', ['-d', device]);
          rmSync(file);
        };
      },
      named: /no loop device but those of running boxes/,
    },
  ];
  check();
  for (const leak of planted) {
    const remove = leak.plant();
    try {
      assert.throws(check, leak.named, `${leak.what} of a box that is gone is caught`);
    } finally {
      remove();
    }
  }
  check();
}

/** Boxes no operation touches: they must run on, with the same init, through every crash. */
export async function startBystanders(client: NsboxClient, names: string[]): Promise<Map<string, number>> {
  const adopted = new Map<string, number>();
  for (const [index, name] of names.entries()) {
    const box = await (await client.boxes.create({ name, config: sleeper(index === 0 ? { disk: DISK } : {}), start: true })).wait();
    adopted.set(name, box.runtime.init?.pid as number);
  }
  return adopted;
}

/** Some boxes for the operations to work on, a third of them with a disk limit. */
export async function seedBoxes(client: NsboxClient, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, index) =>
      (await client.boxes.create({ name: `seed-${index}`, config: sleeper(index % 3 === 0 ? { disk: DISK } : {}), start: index % 2 === 0 })).wait(),
    ),
  );
}

/** A state dir, socket and cgroup parent for a child nsboxd, all removed after the test. */
export function makeRig(cleanup: Cleanup): CrashRig {
  const dir = makeTempDir(cleanup, 'crash');
  const rig: CrashRig = {
    stateDir: join(dir, 'state'),
    socketPath: join(dir, 'nsbox.sock'),
    cgroupParent: testCgroupParent(),
    ranges: new Map(),
    disksSeen: 0,
  };
  mkdirSync(rig.stateDir, { recursive: true });
  cleanupBoxes(cleanup, rig.stateDir, rig.cgroupParent);
  cleanup.add('kill nsboxd', () => rig.daemon?.child.kill('SIGKILL'));
  return rig;
}

/** Loop devices backed by `file`, read from sysfs (cheap enough to poll every millisecond). */
export function loopsBackedBy(file: string): string[] {
  return readdirSync('/sys/block')
    .filter((name) => name.startsWith('loop'))
    .filter((name) => {
      try {
        return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim() === file;
      } catch {
        return false; // not attached
      }
    });
}

/**
 * nsboxd killed inside the limits plugin's prepare, while it makes a box's first disk image:
 * the image is on a loop device and mounted, and neither the plugin's record of it nor the
 * prepare step is in the store yet. Reconcile must take it down all the same.
 */
export function killInsideDiskPrepare() {
  return async function (this: Mocha.Context) {
    const rig = makeRig((this as unknown as { cleanup: Cleanup }).cleanup);
    let client = await startRig(rig);
    const box = await (await client.boxes.create({ name: 'first-image', config: sleeper({ disk: DISK }) })).wait();
    const image = join(rig.stateDir, 'pools', 'default', `${box.id}.img`);
    const starting = client.boxes.start(box.name).catch((error: Error) => error);
    const deadline = Date.now() + 30_000;
    while (loopsBackedBy(image).length === 0) {
      if (Date.now() > deadline) throw new Error(`no loop device ever held ${image}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    rig.daemon?.child.kill('SIGKILL');
    await rig.daemon?.exited;
    await starting;
    client.close();
    const killed = readStore(rig.stateDir);
    assert.deepEqual(
      killed.openJournal.map((entry) => entry.kind),
      ['start'],
      'the kill cut the start short',
    );
    assert.ok(!killed.pluginState.some((row) => row.namespace === 'limits.disk'), 'the image was not recorded yet: the kill landed inside prepare');
    assert.equal(loopsBackedBy(image).length, 1, 'the kill left the half-made image on its loop device');

    client = await startRig(rig);
    await checkInvariants(rig, client, new Map());
    assert.equal((await client.boxes.get(box.name)).state, 'created', 'the start was rolled back');
    assert.deepEqual(loopsBackedBy(image), [], 'no loop device holds the image');
    // The box is whole: without its disk limit it starts on the rootfs it always had, and
    // destroying it deletes the half-made image that no record and no config names now.
    await client.boxes.update(box.name, { limits: null });
    assert.equal((await client.boxes.start(box.name)).state, 'running');
    assert.equal((await client.boxes.exec(box.name, { command: ['hostname'] })).stdout, `${box.name}\n`);
    await client.boxes.destroy(box.name, { force: true });
    await checkInvariants(rig, client, new Map());
    assert.ok(!existsSync(image), 'destroy deleted the image');
    client.close();
  };
}

/** The whole crash test: seed boxes and bystanders, then rounds of operations, kill, restart, check. */
export function crashSuite(input: { rounds: number; operations: number; seed: number }) {
  return async function (this: Mocha.Context) {
    const rig = makeRig((this as unknown as { cleanup: Cleanup }).cleanup);
    let client = await startRig(rig);
    const adopted = await startBystanders(client, ['bystander-1', 'bystander-2']);
    await seedBoxes(client, 6);
    await checkInvariants(rig, client, adopted);
    for (let round = 1; round <= input.rounds; round++) {
      const seed = input.seed + round;
      const kill = await crashRound(rig, client, { round, count: input.operations, seed, bystanders: [...adopted.keys()] });
      const where = `round ${round} (seed ${seed}, killed after ${kill.killAfter} ms)`;
      assert.equal(kill.sent, input.operations, `${where}: every operation was sent before the kill`);
      assert.ok(kill.unanswered > 0, `${where}: the kill cut requests short`);
      assert.ok(kill.openJournal.length > 0, `${where}: the kill hit operations in flight`);
      client = await startRig(rig);
      const found = await checkInvariants(rig, client, adopted).catch((error: Error) => {
        throw new Error(`${where}: ${error.message}\n${rig.daemon?.stderr() ?? ''}`);
      });
      // What the kill left open, reconcile settled: tear-downs finished, the rest rolled back.
      const settled = settlement(
        rig.stateDir,
        kill.openJournal.map((entry) => entry.id),
        kill.openApiOperations,
      );
      assert.ok(
        settled.journal.every((status) => status === 'done' || status === 'rolled-back'),
        `${where}: interrupted operations ${JSON.stringify(kill.openJournal)} ended ${settled.journal.join(', ')}`,
      );
      assert.ok(!settled.api.includes('running'), `${where}: interrupted API operations ended ${settled.api.join(', ')}`);
      assert.ok(found.running >= adopted.size);
      console.log(
        `      ${where}: ${kill.unanswered} of ${kill.sent} requests unanswered, ${kill.openJournal.length} operations in flight (${kill.openJournal.map((entry) => entry.kind).join(', ')}), ${found.boxes} boxes after, ${found.running} running`,
      );
    }
    assert.ok(rig.disksSeen > 0, 'boxes with a disk limit took part');
    await plantedLeaksAreCaught(rig, client, adopted);
    // And the host still works after all that.
    const after = await (
      await client.boxes.create({ name: 'after-the-crashes', config: { template: 'busybox', process: { args: ['sleep', '100'] } }, start: true })
    ).wait();
    assert.equal(after.state, 'running');
    assert.equal((await client.boxes.exec('bystander-1', { command: ['hostname'] })).stdout, 'bystander-1\n');
    client.close();
  };
}
