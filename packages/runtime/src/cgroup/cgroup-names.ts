/**
 * Checks on the names that become paths under /sys/fs/cgroup. A box name or a file name
 * that could climb out ('..', '/') would let a caller write into cgroups that are not ours.
 */
import { NsboxError } from '@nsbox/core';

// Letters first, then what cgroup names commonly carry (ids, systemd-style units).
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,199}$/;

export function assertBoxName(name: string): void {
  if (!SEGMENT.test(name)) {
    throw new NsboxError('E_INVALID_ARGUMENT', `invalid cgroup name '${name}': use letters, digits and _.@:+- (no '/'), at most 200 characters`, {
      details: { name },
    });
  }
}

/**
 * The parent that is the roots of the hierarchies themselves: an OCI `linux.cgroupsPath` of
 * one level ('/cgrouptest') puts a box right below the cgroup mount point, as runc and crun
 * do. Only a placement driver uses it: none of the root's other children are ours, so a
 * driver on it lists no boxes and never removes its parent.
 */
export const CGROUP_ROOT_PARENT = '/';

/** The parent may be nested ('nsbox/web'); every level is ours, so each must be a plain name. */
export function parentSegments(parent: string): string[] {
  if (parent === CGROUP_ROOT_PARENT) return [];
  const segments = parent.split('/');
  if (parent === '' || segments.some((segment) => !SEGMENT.test(segment))) {
    throw new NsboxError('E_INVALID_ARGUMENT', `invalid cgroup parent '${parent}': a relative path of plain names such as 'nsbox' or 'nsbox/web'`, {
      details: { parent },
    });
  }
  return segments;
}

/**
 * A controller file is '<controller>.<knob>' on both versions (memory.max, memory.limit_in_bytes,
 * cpuset.cpus, pids.max); insisting on the prefix keeps a write for one controller from
 * landing in another's file.
 */
export function assertControllerFile(controller: string, file: string): void {
  const valid = /^[a-z0-9_]+$/.test(controller) && file.startsWith(`${controller}.`) && /^[A-Za-z0-9_.-]+$/.test(file) && !file.includes('..');
  if (!valid) {
    throw new NsboxError('E_INVALID_ARGUMENT', `invalid cgroup file '${file}' for controller '${controller}': expected '${controller}.<name>'`, {
      details: { controller, file },
    });
  }
}
