/**
 * The spec the launcher gets for an OCI box: config.json as the plugins left it, plus what
 * a runc-compatible runtime adds on its own side —
 *   - a `cgroup` mount made of binds of the box's own cgroup directories (what runc does
 *     on cgroup v1 and hybrid hosts);
 *   - runc's default device rules after config.json's;
 *   - `notmpcopyup` dropped (`tmpcopyup` is the launcher's: native/src/launcher-copyup.c).
 */

import type { OciMount, OciSpec } from '@nsbox/core';
import type { BoxCgroup } from '@nsbox/runtime';
import { defaultDeviceRules } from '../bundle/resources.js';

function withoutNotmpcopyup(spec: OciSpec): OciMount[] {
  return spec.mounts.map((mount) =>
    mount.options?.includes('notmpcopyup') ? { ...mount, options: mount.options.filter((option) => option !== 'notmpcopyup') } : mount,
  );
}

/** `cgroup` mounts become a tmpfs with binds of the box's own directories in each hierarchy. */
function cgroupMounts(mount: OciMount, cgroup: BoxCgroup): OciMount[] {
  const flags = (mount.options ?? []).filter((option) => ['nosuid', 'noexec', 'nodev', 'ro', 'relatime'].includes(option));
  const base = mount.destination.replace(/\/$/, '');
  const mounts: OciMount[] = [{ destination: base, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'nodev', 'mode=755', 'size=64k'] }];
  const byDir = new Map<string, string[]>();
  for (const [controller, dir] of Object.entries(cgroup.v1Dirs)) byDir.set(dir, [...(byDir.get(dir) ?? []), controller]);
  for (const [dir, controllers] of byDir) {
    mounts.push({ destination: `${base}/${controllers.join(',')}`, type: 'bind', source: dir, options: ['rbind', ...flags] });
  }
  if (cgroup.unifiedDir) {
    const unified = Object.keys(cgroup.v1Dirs).length > 0 ? `${base}/unified` : base;
    if (unified === base) mounts.length = 0;
    mounts.push({ destination: unified, type: 'bind', source: cgroup.unifiedDir, options: ['rbind', ...flags] });
  }
  return mounts;
}

export function launchSpec(spec: OciSpec, cgroup: BoxCgroup): OciSpec {
  const launch = structuredClone(spec);
  launch.mounts = withoutNotmpcopyup(launch);
  launch.mounts = launch.mounts.flatMap((mount) => (mount.type === 'cgroup' || mount.type === 'cgroup2' ? cgroupMounts(mount, cgroup) : [mount]));
  const readonlyCgroups = spec.mounts.filter((mount) => (mount.type === 'cgroup' || mount.type === 'cgroup2') && (mount.options ?? []).includes('ro'));
  if (readonlyCgroups.length > 0) {
    launch.linux.readonlyPaths = [...(launch.linux.readonlyPaths ?? []), ...readonlyCgroups.map((mount) => mount.destination)];
  }

  const resources = (launch.linux.resources ?? {}) as { devices?: unknown[] };
  if (Array.isArray(resources.devices) && resources.devices.length > 0) {
    launch.linux.resources = { ...resources, devices: [...resources.devices, ...defaultDeviceRules.map((rule) => ({ ...rule }))] };
  }

  return launch;
}
