/**
 * How the init helper (@nsbox/native: native/src/runc-init.c) reaches a box without the box ever holding a
 * writable path to a host binary (the CVE-2019-5736 class). The box does not bind the
 * helper's host file: it gets a read-only overlay of a directory holding only a copy of
 * the helper, with no upper layer. An overlay without an upper layer refuses every write
 * and refuses to be remounted read-write, so even a box with CAP_SYS_ADMIN cannot turn its
 * /proc/1/exe or its view of the helper into a writable file; a bind mount, by contrast,
 * is one `mount -o remount,bind,rw` away from writing the host file every later box runs.
 *
 * The launcher mounts the overlay inside the box's mount namespace (before pivot_root, so
 * the layers' host paths resolve there): nothing is mounted on the host, nothing is left
 * to unmount, and the cost per box is one mount(2).
 */

import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, type OciMount } from '@nsbox/core';

export const INIT_HELPER_NAME = 'nsbox-runc-init';

export interface InitHelperLayers {
  /** A directory holding only the helper: the overlay's lower layer. */
  helperDir: string;
  /** An empty directory: an overlay without an upper layer needs two lower ones. */
  emptyDir: string;
}

/** overlay's mount data splits on ',' and ':'. */
function checkLayerPath(path: string): void {
  if (/[,:\s\\]/.test(path)) {
    throw new NsboxError('E_INVALID_ARGUMENT', `--root '${path}' must not contain ',', ':', '\\' or white space (it holds the init helper's overlay layers)`, {
      details: { field: '--root' },
    });
  }
}

/**
 * The layers under `root`, with the helper copied from `helper` when missing or changed.
 * A changed helper is written beside and renamed over, so a running box's overlay keeps
 * the inode it was built from.
 */
export function prepareInitLayers(root: string, helper: string): InitHelperLayers {
  const base = join(root, 'init');
  const layers = { helperDir: join(base, 'helper'), emptyDir: join(base, 'empty') };
  checkLayerPath(layers.helperDir);
  mkdirSync(layers.helperDir, { recursive: true, mode: 0o755 });
  mkdirSync(layers.emptyDir, { recursive: true, mode: 0o755 });
  const copy = join(layers.helperDir, INIT_HELPER_NAME);
  if (!existsSync(copy) || !readFileSync(copy).equals(readFileSync(helper))) {
    const fresh = join(base, `${INIT_HELPER_NAME}.${process.pid}.tmp`);
    copyFileSync(helper, fresh);
    renameSync(fresh, copy);
  }
  return layers;
}

/** The mount that shows the helper at `destination`/nsbox-runc-init, read-only for good. */
export function initHelperMount(layers: InitHelperLayers, destination: string): OciMount {
  return {
    destination,
    type: 'overlay',
    source: 'overlay',
    options: ['ro', 'nosuid', 'nodev', `lowerdir=${layers.helperDir}:${layers.emptyDir}`],
  };
}
