/**
 * Disk limits as a filesystem image per box (the OpenVZ ploop / Proxmox raw-image way): a
 * sparse file in a pool, formatted ext4 or XFS, on a loop device, mounted as the box's root.
 * Works on any kernel. The image is sized so that the filesystem offers exactly the limit
 * (`df /` in the box shows it), and inodes are fixed when the image is made (ext4 -N).
 *
 * Growing a mounted filesystem needs CAP_SYS_RESOURCE for ext4 (resize2fs online) but only
 * CAP_SYS_ADMIN for XFS (xfs_growfs). Hosts whose root lacks CAP_SYS_RESOURCE get XFS for
 * boxes without an inode limit (XFS refuses filesystems under 300 MiB), so that raising a
 * limit live works there too. Shrinking needs the box stopped: ext4 shrinks offline, XFS
 * cannot shrink and is remade (files copied into a new image), as is any image whose inode
 * count changes.
 */

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { removeTreeSync } from '@nsbox/native';
import { kernelQuotaProblem } from '@nsbox/runtime-api';
import { CAP_SYS_RESOURCE, type HostFacts } from '../host-facts.js';
import { formatSize } from '../units.js';
import type { BoxDiskContext, DiskProblem, DiskRecord, DiskRequest, ImageRecord, StorageBackend } from './storage-backend.js';
import { isMountPoint, run, type SpaceFigures, space, which } from './system.js';

const BLOCK = 4096;
/** mkfs.xfs refuses smaller filesystems. */
export const XFS_MIN_BYTES = 300 * 2 ** 20;
const REQUIRED_TOOLS = ['losetup', 'mount', 'umount', 'mkfs.ext4', 'resize2fs', 'e2fsck', 'dumpe2fs', 'cp', 'du'];
/** How long an image taken down may stay held before it is refused (see ensureReleased). */
const RELEASE_WAIT_MS = 5_000;

function roundUp(bytes: number): number {
  return Math.ceil(bytes / BLOCK) * BLOCK;
}

export class ImageBackend implements StorageBackend {
  readonly name = 'image' as const;

  constructor(private readonly facts: HostFacts) {}

  unavailable(context: BoxDiskContext): string | undefined {
    const missing = REQUIRED_TOOLS.filter((tool) => !which(tool));
    if (missing.length > 0) return `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed (Debian: mount, e2fsprogs, coreutils)`;
    if (!existsSync('/dev/loop-control')) return 'this host has no loop devices (/dev/loop-control is missing)';
    if (!context.ownsSeed) {
      return `box '${context.box.name}' runs on a rootfs directory given by the admin: a disk image would move its root out of that directory (project quotas, which limit it in place, need a kernel and filesystem with quota support)`;
    }
    return undefined;
  }

  rootPath(context: BoxDiskContext): string {
    return join(context.boxDir, 'disk');
  }

  imagePath(context: BoxDiskContext): string {
    return join(context.poolPath, `${context.box.id}.img`);
  }

  /** ext4 unless ext4 could not grow online here and XFS can hold the box. */
  chooseFs(request: DiskRequest): ImageRecord['fs'] {
    if (request.inodes !== undefined || this.growsOnline('ext4')) return 'ext4';
    if (request.limit >= XFS_MIN_BYTES && which('mkfs.xfs') && which('xfs_growfs') && which('xfs_db')) return 'xfs';
    return 'ext4';
  }

  growsOnline(fs: ImageRecord['fs']): boolean {
    return fs === 'xfs' || this.facts.hasCapability(CAP_SYS_RESOURCE);
  }

  check(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest | undefined, running: boolean): DiskProblem[] {
    const name = context.box.name;
    const image = record?.backend === 'image' ? record : undefined;
    const problems: DiskProblem[] = [];
    const invalid = (message: string) => problems.push({ kind: 'invalid', message });
    const state = (message: string) => problems.push({ kind: 'state', message });
    if (running && !image && request) state(`adding a disk limit moves the box's root into a filesystem image of its own: stop box '${name}' first`);
    if (running && image && !request) state(`removing the disk limit moves the box's root out of its image: stop box '${name}' first`);
    if (!image && request && context.ownsSeed && existsSync(context.seed)) {
      const used = Number(run('du', ['-s', '-B1', '-x', context.seed]).split(/\s/)[0]);
      if (used > request.limit) invalid(`disk ${formatSize(request.limit)} is below what box '${name}' already uses (${formatSize(used)})`);
    }
    if (!image || !request) return problems;
    if (request.pool !== image.pool) invalid(`the image of box '${name}' lives in pool '${image.pool}': moving it to pool '${request.pool}' is not supported`);
    const usage = this.usage(context, image);
    if (usage && request.limit < usage.used) {
      invalid(`disk ${formatSize(request.limit)} is below what box '${name}' already uses (${formatSize(usage.used)})`);
    }
    if (request.inodes !== undefined && usage?.inodesUsed != null && request.inodes < usage.inodesUsed) {
      invalid(`inodes ${request.inodes} is below what box '${name}' already uses (${usage.inodesUsed})`);
    }
    if (!running) return problems;
    if (request.limit < image.limit) {
      state(
        `shrinking the disk of a running box is not possible (${image.fs} cannot shrink while mounted): stop box '${name}' first; it shrinks at the next start`,
      );
    } else if (request.limit > image.limit && !this.growsOnline(image.fs)) {
      problems.push({
        kind: 'unsupported',
        message: `growing the ext4 image of a running box needs CAP_SYS_RESOURCE, which root lacks on this host: stop box '${name}' and it grows at the next start (boxes without an inode limit and with 300M or more get XFS images, which grow live)`,
      });
    }
    if (request.inodes !== image.inodes) {
      state(`the inode count of an ${image.fs} image is fixed when it is made: stop box '${name}' and its image is remade at the next start`);
    }
    return problems;
  }

  prepare(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest): ImageRecord {
    const mount = this.rootPath(context);
    let image = record?.backend === 'image' ? record : undefined;
    const file = image?.image ?? this.imagePath(context);
    takeDown(mount, file);
    mkdirSync(mount, { recursive: true, mode: 0o755 });
    if (image && !image.populated) image = undefined;
    if (!image) return this.make(context, request, file);
    const rebuild = request.inodes !== image.inodes || (image.fs === 'xfs' && request.limit < image.limit);
    if (rebuild) image = this.rebuild(context, image, request);
    else if (request.limit !== image.limit) image = this.resizeOffline(image, request);
    bringUp(image, mount);
    return this.fit(image, mount);
  }

  resizeLive(context: BoxDiskContext, record: DiskRecord, request: DiskRequest): ImageRecord {
    const image = record as ImageRecord;
    const mount = this.rootPath(context);
    if (!isMountPoint(mount)) throw new NsboxError('E_INVALID_STATE', `the image of box '${context.box.name}' is not mounted at ${mount}`);
    growOnline(image, mount, request.limit + image.overhead);
    return this.fit({ ...image, limit: request.limit }, mount);
  }

  usage(context: BoxDiskContext, record: DiskRecord): SpaceFigures | undefined {
    const image = record as ImageRecord;
    const mount = this.rootPath(context);
    if (isMountPoint(mount)) return space(mount);
    if (!existsSync(image.image)) return undefined;
    return image.fs === 'ext4' ? ext4Usage(image) : xfsUsage(image);
  }

  release(context: BoxDiskContext, record: DiskRecord): void {
    takeDown(this.rootPath(context), (record as ImageRecord).image);
  }

  remove(context: BoxDiskContext, record: DiskRecord, options: { keepData: boolean }): void {
    const image = record as ImageRecord;
    const mount = this.rootPath(context);
    if (options.keepData && existsSync(image.image) && image.populated) {
      if (!isMountPoint(mount)) {
        takeDown(mount, image.image);
        mkdirSync(mount, { recursive: true });
        bringUp(image, mount);
      }
      // Only from a mounted image: copying an empty directory back would lose the box's files.
      if (!isMountPoint(mount)) throw new NsboxError('E_RUNTIME', `cannot mount the image of box '${context.box.name}' to move its files back`);
      mkdirSync(context.seed, { recursive: true });
      run('cp', ['-a', '--', `${mount}/.`, `${context.seed}/`], { timeoutMs: 3_600_000 });
    }
    takeDown(mount, image.image);
    rmSync(image.image, { force: true });
    rmSync(`${image.image}.new`, { force: true });
    if (existsSync(mount) && !isMountPoint(mount)) removeTreeSync(mount);
  }

  /** A new image for the box, filled from its seed directory. */
  private make(context: BoxDiskContext, request: DiskRequest, file: string): ImageRecord {
    const mount = this.rootPath(context);
    const fs = this.chooseFs(request);
    const quota = withQuota(fs);
    let record: ImageRecord = {
      backend: 'image',
      fs,
      image: file,
      pool: request.pool,
      limit: request.limit,
      ...(request.inodes !== undefined ? { inodes: request.inodes } : {}),
      overhead: createImage(file, fs, request, quota),
      populated: false,
      ...(quota ? { quota } : {}),
    };
    try {
      bringUp(record, mount);
      record = this.fit(record, mount);
      run('cp', ['-a', '--', `${context.seed}/.`, `${mount}/`], { timeoutMs: 3_600_000 });
    } catch (error) {
      takeDown(mount, file);
      rmSync(file, { force: true });
      throw error;
    }
    return { ...record, populated: true };
  }

  /** A new image (other fs, inode count or a smaller XFS) with the old one's files. */
  private rebuild(context: BoxDiskContext, old: ImageRecord, request: DiskRequest): ImageRecord {
    const mount = this.rootPath(context);
    const fresh = `${old.image}.new`;
    const oldMount = `${mount}.old`;
    const newMount = `${mount}.new`;
    rmSync(fresh, { force: true });
    const fs = this.chooseFs(request);
    const quota = withQuota(fs);
    let record: ImageRecord = {
      ...old,
      fs,
      image: fresh,
      limit: request.limit,
      overhead: createImage(fresh, fs, request, quota),
    };
    delete record.inodes;
    delete record.quota;
    if (quota) record.quota = quota;
    if (request.inodes !== undefined) record.inodes = request.inodes;
    try {
      for (const dir of [oldMount, newMount]) mkdirSync(dir, { recursive: true });
      bringUp(old, oldMount);
      bringUp(record, newMount);
      record = this.fit(record, newMount);
      run('cp', ['-a', '--', `${oldMount}/.`, `${newMount}/`], { timeoutMs: 3_600_000 });
    } catch (error) {
      takeDown(newMount, fresh);
      rmSync(fresh, { force: true });
      throw error;
    } finally {
      takeDown(newMount, fresh);
      takeDown(oldMount, old.image);
      for (const dir of [oldMount, newMount]) if (existsSync(dir) && !isMountPoint(dir)) removeTreeSync(dir);
    }
    renameSync(fresh, old.image);
    return { ...record, image: old.image };
  }

  /** A stopped box's image to a new size: ext4 grows or shrinks offline, XFS grows once mounted. */
  private resizeOffline(image: ImageRecord, request: DiskRequest): ImageRecord {
    // e2fsck and resize2fs write the file directly: never under a filesystem still alive on it.
    ensureReleased(image.image);
    const target = roundUp(request.limit + image.overhead);
    if (image.fs === 'xfs') {
      truncateSync(image.image, target);
      return { ...image, limit: request.limit };
    }
    fsck(image.image);
    if (target > statSync(image.image).size) truncateSync(image.image, target);
    run('resize2fs', [image.image, String(target / BLOCK)]);
    truncateSync(image.image, target);
    return { ...image, limit: request.limit };
  }

  /**
   * Grows the filesystem until it offers the limit (journal, log and inode tables take
   * some of the image), where the filesystem can grow mounted; records the overhead.
   */
  private fit(image: ImageRecord, mount: string): ImageRecord {
    for (let round = 0; round < 3; round++) {
      const offered = space(mount).size;
      if (offered + BLOCK > image.limit || !this.growsOnline(image.fs)) break;
      growOnline(image, mount, statSync(image.image).size + (image.limit - offered));
    }
    return { ...image, overhead: statSync(image.image).size - space(mount).size };
  }
}

/**
 * Whether a new image gets the quota feature: ext4 on a kernel that keeps quotas with its
 * format (an ext4 with it cannot be mounted where the kernel has none). XFS images stay without.
 */
function withQuota(fs: ImageRecord['fs']): boolean {
  return fs === 'ext4' && kernelQuotaProblem() === undefined;
}

/** Makes a sparse image of the limit's size with a filesystem; returns its expected overhead. */
function createImage(file: string, fs: ImageRecord['fs'], request: DiskRequest, quota: boolean): number {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  rmSync(file, { force: true });
  writeFileSync(file, '', { mode: 0o600 });
  truncateSync(file, roundUp(request.limit));
  if (fs === 'xfs') {
    run('mkfs.xfs', ['-q', '-f', '-L', 'nsbox', file]);
    return 0;
  }
  const inodes = request.inodes === undefined ? [] : ['-N', String(request.inodes)];
  // Hidden user and group quota inodes: usage counted from the first file, limits only as the box sets them.
  const features = quota ? ['-O', 'quota', '-E', 'nodiscard,quotatype=usrquota:grpquota'] : ['-E', 'nodiscard'];
  // -m 0: no blocks kept for root, so the box gets the whole limit.
  run('mkfs.ext4', ['-F', '-q', '-b', String(BLOCK), '-m', '0', ...features, '-L', 'nsbox', ...inodes, file]);
  // ext4 knows its overhead right after mkfs: grow offline by it, so df shows the limit.
  const overhead = dumpe2fs(file).get('Overhead clusters');
  if (overhead === undefined) return 0;
  const target = roundUp(request.limit) + overhead * BLOCK;
  truncateSync(file, target);
  run('resize2fs', [file, String(target / BLOCK)]);
  return overhead * BLOCK;
}

function dumpe2fs(file: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of run('dumpe2fs', ['-h', file]).split('\n')) {
    const match = /^([A-Za-z ]+):\s+(\d+)$/.exec(line.trim());
    if (match) values.set(match[1] as string, Number(match[2]));
  }
  return values;
}

function ext4Usage(image: ImageRecord): SpaceFigures {
  const values = dumpe2fs(image.image);
  const blocks = values.get('Block count') ?? 0;
  const free = values.get('Free blocks') ?? 0;
  const inodes = values.get('Inode count') ?? null;
  const freeInodes = values.get('Free inodes') ?? 0;
  const size = blocks * BLOCK - image.overhead;
  const used = Math.max(0, (blocks - free) * BLOCK - image.overhead);
  return { size, used, available: size - used, inodes, inodesUsed: inodes === null ? null : inodes - freeInodes };
}

function xfsUsage(image: ImageRecord): SpaceFigures {
  const text = run('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p blocksize dblocks fdblocks icount ifree', image.image]);
  const value = (key: string) => Number(new RegExp(`^${key} = (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const size = value('dblocks') * value('blocksize') - image.overhead;
  const used = Math.max(0, (value('dblocks') - value('fdblocks')) * value('blocksize') - image.overhead);
  return { size, used, available: size - used, inodes: null, inodesUsed: value('icount') - value('ifree') };
}

/** e2fsck -f -p; exit status 1 means it fixed something, which is fine. */
function fsck(file: string): void {
  try {
    run('e2fsck', ['-f', '-p', file]);
  } catch (error) {
    if ((error as NsboxError).details?.['status'] !== 1) throw error;
  }
}

/** Loop devices backed by the image (a crash may have left more than one). */
export function loopsOf(file: string): string[] {
  return run('losetup', ['-j', file])
    .split('\n')
    .map((line) => /^(\/dev\/loop\d+):/.exec(line)?.[1])
    .filter((device): device is string => device !== undefined);
}

/**
 * Waits until no loop device holds the image, or refuses. takeDown unmounts lazily what is
 * busy, and the kernel keeps that filesystem alive, on its loop device, until its last user
 * is gone: normally the box's processes, a moment after they are killed, but also a `cp` that
 * a killed nsboxd left running in it. Attaching the image again then would put a second
 * filesystem on the same file (each overwriting the other's metadata: a box's files lost),
 * and e2fsck or resize2fs would change it under the live one. The busy error names the
 * device; the start can be tried again once that user has ended.
 */
export function ensureReleased(file: string): void {
  const deadline = Date.now() + RELEASE_WAIT_MS;
  for (let held = loopsOf(file); held.length > 0; held = loopsOf(file)) {
    if (Date.now() > deadline) {
      throw new NsboxError(
        'E_BUSY',
        `the disk image ${file} is still held by ${held.join(', ')}: a process still uses the filesystem it held before (one a killed nsboxd left behind, say); it is not attached twice — try again once that process has ended`,
        { details: { image: file, loopDevices: held } },
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

function bringUp(image: ImageRecord, mount: string): void {
  ensureReleased(image.image);
  const device = run('losetup', ['--find', '--show', image.image]).trim();
  try {
    // usrquota,grpquota: the limits the box's root sets are enforced (the feature alone only counts).
    run('mount', ['-t', image.fs, ...(image.quota ? ['-o', 'usrquota,grpquota'] : []), device, mount]);
  } catch (error) {
    run('losetup', ['-d', device]);
    throw error;
  }
}

/** Unmounts and detaches whatever of this image is up; idempotent. */
export function takeDown(mount: string, file: string): void {
  if (isMountPoint(mount)) {
    try {
      run('umount', [mount]);
    } catch {
      // Busy (a process with its cwd there): detach now, the kernel frees it when released.
      run('umount', ['-l', mount]);
    }
  }
  if (!existsSync(file)) return;
  for (const device of loopsOf(file)) {
    try {
      run('losetup', ['-d', device]);
    } catch {
      // Already detaching (autoclear set by a lazy unmount): the kernel finishes it.
    }
  }
}

function growOnline(image: ImageRecord, mount: string, targetBytes: number): void {
  const target = roundUp(targetBytes);
  if (target > statSync(image.image).size) truncateSync(image.image, target);
  const device = loopsOf(image.image)[0];
  if (!device) throw new NsboxError('E_RUNTIME', `no loop device holds ${image.image}`);
  run('losetup', ['-c', device]);
  if (image.fs === 'xfs') run('xfs_growfs', [mount]);
  else run('resize2fs', [device]);
}

/** Entries of a directory, for emptying a seed once its files live in the image. */
export function emptyDirectory(dir: string): void {
  for (const entry of readdirSync(dir, { encoding: 'buffer' })) removeTreeSync(Buffer.concat([Buffer.from(`${dir}/`), entry]));
}
