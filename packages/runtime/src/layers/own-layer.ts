/** A layered box's own layer: the empty upper and work directories in its root directory. */

import { lchownSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OWN_UPPER, OWN_WORK } from '@nsbox/runtime-api';

/**
 * Makes `rootfs` with an empty upper and work directory. The overlay's root directory takes
 * its owner and mode from the upper's, so the upper copies the top layer's root (0755 root:root
 * for a distribution).
 */
export function makeOwnLayer(rootfs: string, topLower: string): void {
  const top = lstatSync(topLower);
  mkdirSync(rootfs, { mode: 0o755 });
  const upper = join(rootfs, OWN_UPPER);
  mkdirSync(upper, { mode: top.mode & 0o7777 });
  lchownSync(upper, top.uid, top.gid);
  mkdirSync(join(rootfs, OWN_WORK), { mode: 0o700 });
}
