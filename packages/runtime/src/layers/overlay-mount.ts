/**
 * The overlay of a layered box, mounted on its root path over the box's own upper and work
 * directories (which it then hides from the box). The mount's source names the box
 * (`nsbox-layers-<box id>`), so that taking it down touches only a mount nsbox made for that box.
 *
 * A box with a user namespace sees its root through an idmap. overlayfs cannot be idmapped
 * itself (mount_setattr EINVAL), its layers can (Linux 5.19): each lower layer gets an
 * idmapped bind mount of its own under the box's directory (`lowers/<n>`), with the box's
 * maps, and the overlay is built on those. The upper stays a plain directory: overlayfs
 * writes it with the mounter's credentials (host root), which an idmapped upper could not
 * represent (EOVERFLOW); the box's files in it are owned by the box's host ids, as the
 * overlay shows them, and its root directory is given the box's root as owner.
 */

import { spawnSync } from 'node:child_process';
import { lchownSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, type OciIdMapping } from '@nsbox/core';
import { native } from '@nsbox/native';
import { OWN_UPPER, OWN_WORK } from '@nsbox/runtime-api';

/** The box's id maps, for its idmapped lower layers. */
export interface LayerIdmap {
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
}

function mapText(mappings: OciIdMapping[]): string {
  return mappings.map((mapping) => `${mapping.containerID} ${mapping.hostID} ${mapping.size}\n`).join('');
}

/** The host id the box sees as `id` (the id on disk, shown through the idmap). */
function mapId(mappings: OciIdMapping[], id: number): number {
  const mapping = mappings.find((entry) => id >= entry.containerID && id < entry.containerID + entry.size);
  if (!mapping)
    throw new NsboxError('E_INVALID_CONFIG', `id ${id} of the template's root is outside the box's id mappings`, { details: { field: 'linux.uidMappings' } });
  return mapping.hostID + (id - mapping.containerID);
}

export function overlaySource(boxId: string): string {
  return `nsbox-layers-${boxId}`;
}

/** `mount` option values cannot hold these (the lowerdir list separator, option separators). */
const UNSAFE_PATH = /[,:\\\s]/;

export interface MountEntry {
  point: string;
  fstype: string;
  source: string;
}

function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The host's mount table (our mount namespace), in mount order: a mount stacked on another comes after it. */
export function mounts(): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = left.split(' ')[4];
    const [fstype, source] = right.split(' ');
    if (point && fstype && source) entries.push({ point: decodeMountField(point), fstype, source: decodeMountField(source) });
  }
  return entries;
}

/** Where the box's overlay is mounted now (the host mount namespace), topmost last. */
export function overlayMountPoints(boxId: string): string[] {
  const source = overlaySource(boxId);
  return mounts()
    .filter((entry) => entry.fstype === 'overlay' && entry.source === source)
    .map((entry) => entry.point);
}

/** Mount points at or below `dir` in the host mount namespace, deepest first. */
function mountsBelow(dir: string): string[] {
  return mounts()
    .map((entry) => entry.point)
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Each lower's idmapped bind mount under `lowersDir`, made anew. */
function idmapLowers(lowers: string[], lowersDir: string, idmap: LayerIdmap): string[] {
  for (const point of mountsBelow(lowersDir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  mkdirSync(lowersDir, { recursive: true, mode: 0o700 });
  return lowers.map((lower, index) => {
    const point = join(lowersDir, String(index));
    mkdirSync(point, { recursive: true, mode: 0o700 });
    try {
      native().idmapBind(lower, point, mapText(idmap.uidMappings), mapText(idmap.gidMappings));
    } catch (error) {
      for (const made of mountsBelow(lowersDir)) spawnSync('umount', ['-l', made], { stdio: 'ignore' });
      throw new NsboxError('E_RUNTIME', `cannot idmap the layer ${lower} for the box: ${(error as Error).message}`, {
        details: { layer: lower },
        cause: error,
      });
    }
    return point;
  });
}

/**
 * Mounts overlay(lowers, root/.nsbox-upper) on `root`, on idmapped lowers when `idmap` is
 * given (their mounts under `lowersDir`). Idempotent: a box's overlay already there stays.
 */
export function mountOverlay(boxId: string, root: string, lowers: string[], options: { idmap?: LayerIdmap; lowersDir: string }): void {
  if (overlayMountPoints(boxId).includes(root)) return;
  for (const path of [root, options.lowersDir, ...lowers]) {
    if (UNSAFE_PATH.test(path)) {
      throw new NsboxError('E_INVALID_CONFIG', `cannot layer a rootfs at ${path}: overlay paths may not contain commas, colons, backslashes or spaces`, {
        details: { field: 'rootfs', path },
      });
    }
  }
  const { idmap } = options;
  const upper = join(root, OWN_UPPER);
  if (idmap && lowers[0]) {
    const top = lstatSync(lowers[0]);
    lchownSync(upper, mapId(idmap.uidMappings, top.uid), mapId(idmap.gidMappings, top.gid));
  }
  const layers = idmap ? idmapLowers(lowers, options.lowersDir, idmap) : lowers;
  const mountOptions = `lowerdir=${layers.join(':')},upperdir=${upper},workdir=${join(root, OWN_WORK)}`;
  const result = spawnSync('mount', ['-t', 'overlay', overlaySource(boxId), '-o', mountOptions, root], { encoding: 'utf8' });
  if (result.status !== 0) {
    for (const point of mountsBelow(options.lowersDir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
    throw new NsboxError('E_RUNTIME', `cannot mount the layered rootfs of the box at ${root}: ${(result.stderr || result.error?.message || '').trim()}`, {
      details: { root, lowers },
    });
  }
}

/** Takes down every mount of the box's overlay and its idmapped lowers (a stop, a crashed start, a destroy). */
export function unmountOverlay(boxId: string, lowersDir: string): void {
  for (const point of [...overlayMountPoints(boxId).reverse(), ...mountsBelow(lowersDir)]) {
    const result = spawnSync('umount', [point], { encoding: 'utf8' });
    // Busy (a host process still inside): detached, so the box's directory can go; the kernel frees it when the last user leaves.
    if (result.status !== 0) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  }
  const left = [...overlayMountPoints(boxId), ...mountsBelow(lowersDir)];
  if (left.length > 0) throw new NsboxError('E_RUNTIME', `cannot unmount the layered rootfs at ${left.join(', ')}`, { details: { mounts: left } });
}
