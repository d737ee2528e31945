/**
 * What systemd as a box's PID 1 needs, as LXC and systemd-nspawn give it (systemd's
 * "Container Interface"): `container=nsbox` in its environment (the runtime's base spec sets
 * it), `/run` and `/run/lock` on tmpfs, `/sys/fs/cgroup` with a subtree it may write (a
 * cgroup2 mount in the box's cgroup namespace, whose root is the box's cgroup2 directory,
 * delegated to the box's root: its directory and cgroup.procs/threads/subtree_control chowned
 * to it, as systemd's own Delegate= does), `/dev/console` a pty of the box's own (owned by the
 * box's root, group tty, 0620, so that getty can open it), and SIGRTMIN+3 — systemd's halt —
 * as the signal `nsbox stop` sends first.
 *
 * On a cgroup v1 hybrid host the box's systemd runs in unified mode on the box's part of the
 * cgroup2 hierarchy (/sys/fs/cgroup/unified); the v1 controllers stay the runtime's and apply
 * to the whole box, so the limits hold whatever systemd does inside. A host without cgroup2 gets
 * no /sys/fs/cgroup (systemd then boots without a cgroup tree of its own: not supported).
 */

import { chmodSync, chownSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { type CgroupDriver, contributeLaunch, runtimeFacts } from '@nsbox/runtime-api';
import type { BootMode } from './boot-schema.js';
import { resolveInRoot } from './init-path.js';

/** glibc's SIGRTMIN is 34: systemd halts on SIGRTMIN+3, as `systemctl halt` asks it to. */
export const SYSTEMD_HALT_SIGNAL = 37;
/** Files of a cgroup2 directory a delegated subtree's owner must write (cgroups(7), "Delegation"). */
const DELEGATED_FILES = ['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'];
/** The tty group in Debian and most distributions (its gid in the box). */
const TTY_GID = 5;
/** Pty slaves: majors 136–143 (UNIX98_PTY_SLAVE_MAJOR). */
const PTY_SLAVE_MAJORS = [136, 143];

/** Whether the box boots systemd as its init, by its `boot` setting. */
export function bootsSystemd(mode: BootMode, spec: OciSpec, box: Pick<Box, 'config'>): boolean {
  if (mode !== 'auto') return mode === 'systemd';
  if (box.config.template?.startsWith('debian-12')) return true;
  const init = spec.process.args[0];
  if (!init?.startsWith('/') || !spec.root.path?.startsWith('/')) return false;
  const target = resolveInRoot(spec.root.path, init);
  return target.found && /\/systemd$/.test(target.path);
}

function hasMount(spec: OciSpec, destination: string): boolean {
  return spec.mounts.some((mount) => mount.destination === destination);
}

/** The spec's part: mounts, the box's own console, the halt signal. */
export function addSystemdEnvironment(spec: OciSpec, hostHasCgroup2: boolean): void {
  const mounts = [
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755', 'size=20%'] },
    { destination: '/run/lock', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=5m'] },
    ...(hostHasCgroup2 ? [{ destination: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup2', options: ['nosuid', 'nodev', 'noexec'] }] : []),
  ];
  for (const mount of mounts) if (!hasMount(spec, mount.destination)) spec.mounts.push(mount);
  spec.process.terminal = true;
  if (!spec.process.env?.some((entry) => entry.startsWith('container='))) spec.process.env = [...(spec.process.env ?? []), 'container=nsbox'];
  contributeLaunch(spec, { stopSignal: SYSTEMD_HALT_SIGNAL });
}

/** Whether the box gets a cgroup2 tree at /sys/fs/cgroup (which it must then be able to write). */
export function mountsCgroupTree(spec: OciSpec): boolean {
  return spec.mounts.some((mount) => mount.destination === '/sys/fs/cgroup' && mount.type === 'cgroup2');
}

/** The host id the box's id `id` is (its user namespace's map), or `id` itself without one. */
function hostId(mappings: OciSpec['linux']['uidMappings'], id: number): number {
  for (const mapping of mappings ?? []) {
    if (id >= mapping.containerID && id < mapping.containerID + mapping.size) return mapping.hostID + id - mapping.containerID;
  }
  return mappings?.length ? -1 : id;
}

/** configure: the box's cgroup2 directory becomes its root's to manage (systemd makes its slices there). */
export function delegateCgroup(spec: OciSpec, box: Pick<Box, 'id'>, cgroups: CgroupDriver): void {
  const dir = cgroups.get(box.id)?.unifiedDir;
  if (!dir) return;
  const uid = hostId(spec.linux.uidMappings, 0);
  const gid = hostId(spec.linux.gidMappings, 0);
  if (uid < 0 || gid < 0) return;
  chownSync(dir, uid, gid);
  for (const file of DELEGATED_FILES) chownSync(join(dir, file), uid, gid);
}

/**
 * wire: the init's terminal (its fd 0, the pty the shim made for the box) becomes the box root's,
 * group tty, mode 0620 — what a getty on /dev/console needs. Only a pty slave is touched: the
 * runtime bound it on the box's /dev/console after checking it is not a host console.
 */
export function giveConsoleToBox(spec: OciSpec, box: Pick<Box, 'runtime'>): void {
  const init = runtimeFacts(box).init;
  if (!init || !spec.process.terminal) return;
  const terminal = `/proc/${init.pid}/fd/0`;
  const stat = statSync(terminal);
  const major = Number((BigInt(stat.rdev) >> 8n) & 0xfffn);
  if (!stat.isCharacterDevice() || major < (PTY_SLAVE_MAJORS[0] as number) || major > (PTY_SLAVE_MAJORS[1] as number)) return;
  const uid = hostId(spec.linux.uidMappings, 0);
  const gid = hostId(spec.linux.gidMappings, TTY_GID);
  if (uid < 0 || gid < 0) return;
  chownSync(terminal, uid, gid);
  chmodSync(terminal, 0o620);
}

/** configure: an init that is not there is said plainly, before anything runs. */
export function checkInit(spec: OciSpec): void {
  const init = spec.process.args[0];
  // A relative root (an OCI bundle's) is the bundle's business: only a rootfs path of our own is looked into.
  if (!init?.startsWith('/') || !spec.root.path?.startsWith('/')) return;
  const target = resolveInRoot(spec.root.path, init);
  // A file that is there but not executable is the launcher's to refuse: its exec says EACCES.
  if (target.found || target.why === 'is not executable') return;
  const detail = target.path === init ? `${init} ${target.why}` : `${init} leads to ${target.path}, which ${target.why}`;
  throw new NsboxError(
    'E_INVALID_CONFIG',
    `the box cannot boot: its init ${detail} in its rootfs (a template without an init system, such as a minbase, needs one installed, or process.args naming a program it has)`,
    { details: { field: 'process.args', init, resolved: target.path } },
  );
}
