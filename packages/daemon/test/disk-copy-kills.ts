/**
 * nsboxd killed while the limits plugin copies a box's files between its seed directory and
 * its disk image, at that exact step: nsboxd's `cp` is stopped (SIGSTOP) once it holds a file
 * of the image's filesystem, then nsboxd gets SIGKILL. Two directions:
 *
 * - into a first image (made by mkfs, the copy not done): no record may name the half-made
 *   image and the seed must be whole, so that the next start makes a whole image from it;
 * - back to the seed (the disk limit dropped): the `cp` left running keeps the image's
 *   filesystem alive after the restarted nsboxd unmounts it (lazily, as it is busy). The image
 *   must not be attached again meanwhile (the limit back, a start): two filesystems on one file
 *   overwrite each other's metadata. The start is refused, and works once that `cp` has ended.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxClient } from '@nsbox/client';
import type { Cleanup } from '@nsbox/testkit';
import { type CrashRig, checkInvariants, DISK, ext4Root, loopsBackedBy, makeRig, readStore, sleeper, startRig } from './crash-support.js';

const MiB = 1024 * 1024;
/** A big file and many small ones: a copy long enough to be caught holding a file of the image. */
const BIG = 12 * MiB;
const SMALL = 1500;
const filler = (root: string) =>
  `dd if=/dev/zero of=${root}/big bs=1M count=${BIG / MiB} 2>/dev/null && mkdir ${root}/many && i=0 && while [ $i -lt ${SMALL} ]; do echo $i > ${root}/many/$i; i=$((i+1)); done`;

/** What the box sees of its files: busybox, the big file's size, the number of small ones. */
const wholeFiles = 'ls /bin/busybox; wc -c < /big; ls /many | wc -l';
const wholeAnswer = `/bin/busybox\n${BIG}\n${SMALL}\n`;

/** The children of process `parent` (of any of its threads) named `comm`. */
function childrenNamed(parent: number, comm: string): number[] {
  try {
    return readdirSync(`/proc/${parent}/task`)
      .flatMap((task) => readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
        } catch {
          return false; // gone meanwhile
        }
      });
  } catch {
    return [];
  }
}

/** Whether process `pid` has a file below `dir` open. */
function holdsFileBelow(pid: number, dir: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Stops nsboxd's `cp` once it holds a file below `dir` (the image's mount): caught stopped,
 * it is let run a millisecond at a time until then. Undefined when the copy ended first (the
 * start it belongs to is then over). A stopped cp is killed at cleanup.
 */
async function freezeCopy(daemonPid: number, dir: string, cleanup: Cleanup, startOver: () => boolean): Promise<number | undefined> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [cp] = childrenNamed(daemonPid, 'cp');
    if (cp === undefined) {
      if (startOver()) return undefined;
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    process.kill(cp, 'SIGSTOP');
    cleanup.add('end the stopped cp', () => {
      if (alive(cp)) process.kill(cp, 'SIGKILL');
    });
    while (alive(cp)) {
      if (holdsFileBelow(cp, dir)) return cp;
      process.kill(cp, 'SIGCONT');
      await new Promise((resolve) => setTimeout(resolve, 1));
      process.kill(cp, 'SIGSTOP');
    }
  }
  throw new Error(`nsboxd's cp never held a file below ${dir}`);
}

/** Runs `attempt` until it caught the copy (three tries: a copy may end before it is caught). */
async function withCopyCaught<T>(attempt: (round: number) => Promise<T | undefined>): Promise<T> {
  for (let round = 1; round <= 3; round++) {
    const caught = await attempt(round);
    if (caught !== undefined) return caught;
  }
  throw new Error('the copy ended before it could be stopped, three times');
}

/** Kills nsboxd with the copy stopped, and checks that the kill cut the start short. */
async function killNsboxd(rig: ReturnType<typeof makeRig>, starting: Promise<unknown>): Promise<void> {
  rig.daemon?.child.kill('SIGKILL');
  await rig.daemon?.exited;
  await starting;
  assert.deepEqual(
    readStore(rig.stateDir).openJournal.map((entry) => entry.kind),
    ['start'],
    'the kill cut the start short',
  );
}

/** Starts the box and stops the `cp` of its disk copy when nsboxd runs one (undefined: the start ended first). */
async function startCatchingCopy(client: NsboxClient, rig: CrashRig, name: string, boxDir: string, cleanup: Cleanup) {
  let over = false;
  const starting = client.boxes.start(name).then(
    () => {
      over = true;
    },
    () => undefined,
  );
  const cp = await freezeCopy(rig.daemon?.child.pid as number, join(boxDir, 'disk'), cleanup, () => over);
  return { cp, starting };
}

export function killDuringCopyIntoImage() {
  return async function (this: Mocha.Context) {
    const cleanup = (this as unknown as { cleanup: Cleanup }).cleanup;
    const rig = makeRig(cleanup);
    let client = await startRig(rig);
    const { box, boxDir, image, cp, starting } = await withCopyCaught(async (round) => {
      const box = await (await client.boxes.create({ name: `copy-in-${round}`, config: sleeper({ disk: DISK }) })).wait();
      const boxDir = join(rig.stateDir, 'boxes', box.id);
      execFileSync('sh', ['-c', filler(join(boxDir, 'rootfs'))]);
      const { cp, starting } = await startCatchingCopy(client, rig, box.name, boxDir, cleanup);
      if (cp === undefined) return undefined;
      return { box, boxDir, image: join(rig.stateDir, 'pools', 'default', `${box.id}.img`), cp, starting };
    });
    await killNsboxd(rig, starting);
    client.close();
    // That copy never ends: the image stays half-made.
    process.kill(cp, 'SIGKILL');
    await until('the stopped cp is gone', () => !alive(cp));
    assert.ok(!readStore(rig.stateDir).pluginState.some((row) => row.namespace === 'limits.disk'), 'no record names the half-made image');
    assert.equal(readdirSync(join(boxDir, 'rootfs', 'many')).length, SMALL, 'the seed is whole');
    assert.ok(readdirSync(join(boxDir, 'rootfs')).includes('bin'), 'the seed is whole');

    client = await startRig(rig);
    await checkInvariants(rig, client, new Map());
    assert.equal((await client.boxes.get(box.name)).state, 'created', 'the start was rolled back');
    // The next start makes the image again, whole, from the seed.
    assert.equal((await client.boxes.start(box.name)).state, 'running');
    assert.equal((await client.boxes.exec(box.name, { command: ['sh', '-c', wholeFiles] })).stdout, wholeAnswer);
    await client.boxes.stop(box.name, { timeout: 0 });
    assert.deepEqual(readdirSync(join(boxDir, 'rootfs')), [], 'the seed went into the image');
    assert.ok(ext4Root(image).includes('bin'), 'the image holds the rootfs');
    await checkInvariants(rig, client, new Map());
    client.close();
  };
}

export function killDuringCopyBack() {
  return async function (this: Mocha.Context) {
    const cleanup = (this as unknown as { cleanup: Cleanup }).cleanup;
    const rig = makeRig(cleanup);
    let client = await startRig(rig);
    const { box, image, cp, starting } = await withCopyCaught(async (round) => {
      const box = await (await client.boxes.create({ name: `copy-back-${round}`, config: sleeper({ disk: DISK }), start: true })).wait();
      const boxDir = join(rig.stateDir, 'boxes', box.id);
      await client.boxes.exec(box.name, { command: ['sh', '-c', filler('')] });
      await client.boxes.stop(box.name, { timeout: 0 });
      // The disk limit goes: the next start copies the box's files back to its seed.
      await client.boxes.update(box.name, { limits: null });
      const { cp, starting } = await startCatchingCopy(client, rig, box.name, boxDir, cleanup);
      if (cp === undefined) return undefined;
      return { box, image: join(rig.stateDir, 'pools', 'default', `${box.id}.img`), cp, starting };
    });
    await killNsboxd(rig, starting);
    client.close();
    assert.ok(
      readStore(rig.stateDir).pluginState.some((row) => row.namespace === 'limits.disk' && row.key === box.id),
      'the record still names the image: its files are not all back',
    );

    client = await startRig(rig);
    assert.equal((await client.boxes.get(box.name)).state, 'stopped', 'the start was rolled back');
    assert.equal(loopsBackedBy(image).length, 1, "the cp left running keeps the image's filesystem alive");
    // The limit back, and a start: refused while that filesystem lives, never attached twice.
    await client.boxes.update(box.name, { limits: { disk: DISK } });
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, loopsBackedBy(image).length);
    }, 2);
    try {
      await assert.rejects(client.boxes.start(box.name), /the disk image .* is still held by \/dev\/loop\d+/);
    } finally {
      clearInterval(watch);
    }
    assert.equal(most, 1, 'no second loop device ever held the image');
    assert.equal((await client.boxes.get(box.name)).state, 'stopped', 'the refused start left the box as it was');

    // Once that cp has ended, its filesystem goes, and the box starts on its image.
    process.kill(cp, 'SIGCONT');
    await until('the cp left running has ended', () => !alive(cp), 60_000);
    await until('no loop device holds the image', () => loopsBackedBy(image).length === 0);
    assert.equal((await client.boxes.start(box.name)).state, 'running');
    assert.equal((await client.boxes.exec(box.name, { command: ['sh', '-c', wholeFiles] })).stdout, wholeAnswer);
    assert.equal(loopsBackedBy(image).length, 1, 'one loop device holds the image');
    await client.boxes.stop(box.name, { timeout: 0 });
    assert.ok(ext4Root(image).includes('bin'), 'the image holds the rootfs');
    await checkInvariants(rig, client, new Map());
    client.close();
  };
}
