/**
 * Whether the kernel can keep quotas on an ext4 image with the `quota` feature (hidden quota
 * inodes): CONFIG_QUOTA (its /proc/sys/fs/quota counters) and the vfsv1 format, quota_v2
 * (CONFIG_QFMT_V2: loaded or built in, its code in /proc/kallsyms; or a module modprobe finds).
 * Some kernels have the first without the second: ext4 then refuses to mount such an image.
 */

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

let cached: string | undefined | null = null;

function hasQuotaV2(): boolean {
  try {
    if (/ v2_read_file_info\b/.test(readFileSync('/proc/kallsyms', 'utf8'))) return true;
  } catch {
    // no kallsyms (a kernel without it): the module lists decide
  }
  const dir = `/lib/modules/${release()}`;
  return ['modules.dep', 'modules.builtin'].some((file) => {
    try {
      return /(^|\/)quota_v2\.ko/m.test(readFileSync(`${dir}/${file}`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** Why this kernel keeps no quotas on a box's image; undefined when it does. Worked out once. */
export function kernelQuotaProblem(): string | undefined {
  if (cached !== null) return cached;
  if (!existsSync('/proc/sys/fs/quota')) cached = 'its kernel has no quota support (CONFIG_QUOTA: /proc/sys/fs/quota is missing)';
  else if (!hasQuotaV2()) cached = 'its kernel has no quota format for ext4 quota inodes (CONFIG_QFMT_V2: quota_v2 is neither built in nor a module)';
  else cached = undefined;
  return cached;
}
