/**
 * The disk a box's IO goes to, as the kernel's IO throttles name it ('major:minor' of a whole
 * disk: blk-throttle keeps no state for partitions). Host-side paths only (the box's upper
 * layer or root mount point, a /dev path the admin gave): lstat, never following a link.
 */

import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsboxError } from '@nsbox/core';

const ID = /^\d+:\d+$/;

function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** A partition's whole disk ('8:1' → '8:0'); a whole disk as it is. */
function wholeDisk(id: string): string {
  const sys = `/sys/dev/block/${id}`;
  if (!existsSync(join(sys, 'partition'))) return id;
  return readFileSync(join(dirname(realpathSync(sys)), 'dev'), 'utf8').trim();
}

function unusable(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_CONFIG', `${field}: ${message}`, { details: { field } });
}

/** The admin's device (a /dev path or 'major:minor') as a whole disk's id; throws naming `field`. */
export function namedDisk(device: string, field: string): string {
  let id = device;
  if (!ID.test(device)) {
    const stat = lstatSync(device, { bigint: true, throwIfNoEntry: false });
    if (!stat?.isBlockDevice()) throw unusable(field, `${device} is not a block device on this host`);
    id = majorMinor(stat.rdev);
  }
  if (!existsSync(`/sys/dev/block/${id}`)) throw unusable(field, `${device} is not a block device on this host`);
  return wholeDisk(id);
}

/** 'maj:min' of the filesystem mounted at `point` under any overlay there (a box's disk image), if one is. */
function mountedUnderOverlay(point: string): string | undefined {
  let found: string | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const mountPoint = fields[4]?.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    const fstype = fields[fields.indexOf('-') + 1];
    if (mountPoint === point && fstype !== 'overlay') found = fields[2];
  }
  return found;
}

/**
 * The disk a running box's own files are written to, from its root mount point (host side):
 * the filesystem mounted there under its overlay (a disk image), else the one the root
 * directory is on (an overlay's upper sits beside it). Throws naming `field` where no disk is.
 */
export function diskUnder(root: string, field: string): string {
  const id = mountedUnderOverlay(root) ?? majorMinor(lstatSync(dirname(root), { bigint: true }).dev);
  if (!existsSync(`/sys/dev/block/${id}`)) {
    throw new NsboxError('E_UNSUPPORTED', `${field}: the box's files are on a filesystem without a block device (${id}): name the disk with ${field}.device`, {
      details: { field },
    });
  }
  return wholeDisk(id);
}
