/**
 * The spec the launcher gets for an OCI box: config.json as the plugins left it, plus what
 * a runc-compatible runtime adds on its own side —
 *   - the init helper in front of process.args (create/start split, see native/src/runc-init.c),
 *     on a read-only overlay (./init-helper.ts), and its two fifos, each bound on its own
 *     into the box's /dev tmpfs: the host directory that holds them is never in the box,
 *     so the box cannot put anything there (a symlink for the host to follow, a file that
 *     fills the host's /run), only write into the fifos;
 *   - a `cgroup` mount made of binds of the box's own cgroup directories (what runc does
 *     on cgroup v1 and hybrid hosts);
 *   - runc's default device rules after config.json's;
 *   - `tmpcopyup` resolved: an empty or missing directory has nothing to copy up.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, type OciMount, type OciSpec } from '@nsbox/core';
import type { BoxCgroup } from '@nsbox/runtime';
import { defaultDeviceRules } from '../bundle/resources.js';
import { unsupported } from '../bundle/spec-support.js';
import { INIT_HELPER_NAME, type InitHelperLayers, initHelperMount } from './init-helper.js';

/** Where the helper and its fifos appear inside the box (a tmpfs: nothing lands in the image). */
export const INIT_DIR_IN_BOX = '/dev/.nsbox-runc-init';
export const INIT_IN_BOX = `${INIT_DIR_IN_BOX}/${INIT_HELPER_NAME}`;
export const FIFOS_IN_BOX = '/dev/.nsbox-runc';
export const READY_FIFO = 'ready.fifo';
export const EXEC_FIFO = 'exec.fifo';

export interface LaunchFiles {
  /** The overlay layers that hold the init helper. */
  initLayers: InitHelperLayers;
  /** The host directory holding the box's ready and exec fifos (never mounted in the box). */
  fifoDir: string;
}

/** One fifo bound into the box: the box can open it, not replace or add to what the host reads. */
function fifoMount(fifoDir: string, name: string): OciMount {
  return { destination: `${FIFOS_IN_BOX}/${name}`, type: 'bind', source: join(fifoDir, name), options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] };
}

function insideRoot(root: string, destination: string): string {
  return join(root, ...destination.split('/').filter((part) => part && part !== '..'));
}

/** A directory of the rootfs that holds nothing (or does not exist): copy-up is a no-op there. */
function isEmptyOrMissing(root: string, destination: string): boolean {
  try {
    return readdirSync(insideRoot(root, destination)).length === 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

function resolveTmpcopyup(spec: OciSpec): OciMount[] {
  return spec.mounts.map((mount, index) => {
    const options = mount.options ?? [];
    if (!options.includes('tmpcopyup') && !options.includes('notmpcopyup')) return mount;
    if (options.includes('tmpcopyup') && !isEmptyOrMissing(spec.root.path, mount.destination)) {
      throw unsupported(
        `mounts[${index}].options 'tmpcopyup'`,
        `${mount.destination} holds files in the image and the launcher has no op to copy them into the new tmpfs`,
      );
    }
    return { ...mount, options: options.filter((option) => option !== 'tmpcopyup' && option !== 'notmpcopyup') };
  });
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

export function launchSpec(spec: OciSpec, cgroup: BoxCgroup, files: LaunchFiles): OciSpec {
  const launch = structuredClone(spec);
  launch.mounts = resolveTmpcopyup(launch);
  launch.mounts = launch.mounts.flatMap((mount) => (mount.type === 'cgroup' || mount.type === 'cgroup2' ? cgroupMounts(mount, cgroup) : [mount]));
  const readonlyCgroups = spec.mounts.filter((mount) => (mount.type === 'cgroup' || mount.type === 'cgroup2') && (mount.options ?? []).includes('ro'));
  if (readonlyCgroups.length > 0) {
    launch.linux.readonlyPaths = [...(launch.linux.readonlyPaths ?? []), ...readonlyCgroups.map((mount) => mount.destination)];
  }

  const resources = (launch.linux.resources ?? {}) as { devices?: unknown[] };
  if (Array.isArray(resources.devices) && resources.devices.length > 0) {
    launch.linux.resources = { ...resources, devices: [...resources.devices, ...defaultDeviceRules.map((rule) => ({ ...rule }))] };
  }

  if (!launch.mounts.some((mount) => mount.destination.replace(/\/$/, '') === '/dev' && mount.type === 'tmpfs')) {
    throw new NsboxError('E_UNSUPPORTED', 'mounts: nsbox-runc needs a tmpfs mounted on /dev (it holds the init helper that splits create from start)', {
      details: { field: 'mounts' },
    });
  }
  launch.mounts.push(initHelperMount(files.initLayers, INIT_DIR_IN_BOX), fifoMount(files.fifoDir, READY_FIFO), fifoMount(files.fifoDir, EXEC_FIFO));
  launch.process.args = [INIT_IN_BOX, `${FIFOS_IN_BOX}/${READY_FIFO}`, `${FIFOS_IN_BOX}/${EXEC_FIFO}`, ...spec.process.args];
  return launch;
}
