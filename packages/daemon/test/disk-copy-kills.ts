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
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '@nsbox/testkit';
import { checkInvariants, DISK, ext4Root, loopsBackedBy, makeRig, readStore, sleeper, startRig } from './crash-support.js';

const MiB = 1024 * 1024;
/** A file big enough that the copy is caught in the middle of it. */
const BIG = 12 * MiB;

/** The pid of `parent`'s child named `comm`, if there is one. */
function childNamed(parent: number, comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm && Number(fields[1]) === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
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

/** Stops nsboxd's `cp` once it holds a file below `dir` (the image's mount); it is killed at cleanup. */
async function freezeCopy(daemonPid: number, dir: string, cleanup: Cleanup): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`nsboxd's cp never held a file below ${dir}`);
    const cp = childNamed(daemonPid, 'cp');
    if (cp !== undefined) {
      process.kill(cp, 'SIGSTOP');
      if (holdsFileBelow(cp, dir)) {
        cleanup.add('end the stopped cp', () => {
          if (alive(cp)) process.kill(cp, 'SIGKILL');
        });
        return cp;
      }
      process.kill(cp, 'SIGCONT');
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
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

export function killDuringCopyIntoImage() {
  return async function (this: Mocha.Context) {
    const cleanup = (this as unknown as { cleanup: Cleanup }).cleanup;
    const rig = makeRig(cleanup);
    let client = await startRig(rig);
    const box = await (await client.boxes.create({ name: 'copy-in', config: sleeper({ disk: DISK }) })).wait();
    const boxDir = join(rig.stateDir, 'boxes', box.id);
    const image = join(rig.stateDir, 'pools', 'default', `${box.id}.img`);
    writeFileSync(join(boxDir, 'rootfs', 'big'), Buffer.alloc(BIG, 1));
    const starting = client.boxes.start(box.name).catch((error: Error) => error);
    const cp = await freezeCopy(rig.daemon?.child.pid as number, join(boxDir, 'disk'), cleanup);
    await killNsboxd(rig, starting);
    client.close();
    // That copy never ends: the image stays half-made.
    process.kill(cp, 'SIGKILL');
    await until('the stopped cp is gone', () => !alive(cp));
    assert.ok(!readStore(rig.stateDir).pluginState.some((row) => row.namespace === 'limits.disk'), 'no record names the half-made image');
    assert.ok(readdirSync(join(boxDir, 'rootfs')).includes('bin') && readdirSync(join(boxDir, 'rootfs')).includes('big'), 'the seed is whole');

    client = await startRig(rig);
    await checkInvariants(rig, client, new Map());
    assert.equal((await client.boxes.get(box.name)).state, 'created', 'the start was rolled back');
    // The next start makes the image again, whole, from the seed.
    assert.equal((await client.boxes.start(box.name)).state, 'running');
    assert.equal((await client.boxes.exec(box.name, { command: ['sh', '-c', 'ls /bin/busybox; wc -c < /big'] })).stdout, `/bin/busybox\n${BIG}\n`);
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
    const box = await (await client.boxes.create({ name: 'copy-back', config: sleeper({ disk: DISK }), start: true })).wait();
    const boxDir = join(rig.stateDir, 'boxes', box.id);
    const image = join(rig.stateDir, 'pools', 'default', `${box.id}.img`);
    await client.boxes.exec(box.name, { command: ['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', `count=${BIG / MiB}`] });
    await client.boxes.stop(box.name, { timeout: 0 });
    // The disk limit goes: the next start copies the box's files back to its seed.
    await client.boxes.update(box.name, { limits: null });
    const starting = client.boxes.start(box.name).catch((error: Error) => error);
    const cp = await freezeCopy(rig.daemon?.child.pid as number, join(boxDir, 'disk'), cleanup);
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
    assert.equal((await client.boxes.exec(box.name, { command: ['sh', '-c', 'ls /bin/busybox; wc -c < /big'] })).stdout, `/bin/busybox\n${BIG}\n`);
    assert.equal(loopsBackedBy(image).length, 1, 'one loop device holds the image');
    await client.boxes.stop(box.name, { timeout: 0 });
    assert.ok(ext4Root(image).includes('bin'), 'the image holds the rootfs');
    await checkInvariants(rig, client, new Map());
    client.close();
  };
}
