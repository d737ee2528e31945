/**
 * Edits a box's OCI spec for its `isolation` section: namespaces, the user namespace and
 * its idmapped rootfs, masked and read-only paths, capabilities, no_new_privs, seccomp,
 * the device allowlist, bind mounts, /proc and /sys. Pure: the uid range
 * and the device facts come in, the spec goes out.
 */

import type { OciIdMapping, OciMount, OciNamespace, OciSpec } from '@nsbox/core';
import { contributeLaunch, defaultMaskedPaths, defaultReadonlyPaths } from '@nsbox/runtime-api';
import { effectiveCapabilities } from './capabilities.js';
import type { BindMountConfig, IsolationConfig } from './config-schema.js';
import type { DeviceNode, DeviceRule } from './devices.js';
import type { IsolationHostSettings } from './host-settings.js';
import { defaultSeccompProfile } from './seccomp-profile.js';

/** Masked and read-only whatever the base spec says (the one list, in runtime-api). */
export const maskedPaths = defaultMaskedPaths;
export const readonlyPaths = defaultReadonlyPaths;

/** Every box gets its own of these; the network one is the config's choice. */
const namespaceTypes: OciNamespace['type'][] = ['pid', 'mount', 'uts', 'ipc', 'cgroup'];

export interface IsolationFacts {
  /** The box's host id ranges (absent for a privileged box or explicit mappings). */
  ranges?: { uid: { hostID: number; size: number }; gid: { hostID: number; size: number } };
  devices: { rules: DeviceRule[]; nodes: DeviceNode[] };
  /** The admin's host settings (all off when absent). */
  settings?: Pick<IsolationHostSettings, 'setuidInIdmappedMounts' | 'realtimeScheduling'>;
}

function union(base: readonly string[] | undefined, extra: readonly string[]): string[] {
  return [...new Set([...(base ?? []), ...extra])];
}

function idMappings(config: IsolationConfig, facts: IsolationFacts): { uid: OciIdMapping[]; gid: OciIdMapping[] } | undefined {
  if (config.privileged) return undefined;
  if (config.uidMappings && config.gidMappings) return { uid: config.uidMappings, gid: config.gidMappings };
  if (!facts.ranges) throw new Error('an unprivileged box needs its id ranges');
  return {
    uid: [{ containerID: 0, hostID: facts.ranges.uid.hostID, size: facts.ranges.uid.size }],
    gid: [{ containerID: 0, hostID: facts.ranges.gid.hostID, size: facts.ranges.gid.size }],
  };
}

function setNamespaces(spec: OciSpec, config: IsolationConfig, userns: boolean): void {
  const wanted = new Set<OciNamespace['type']>(namespaceTypes);
  if (config.namespaces.network === 'private') wanted.add('network');
  if (userns) wanted.add('user');
  // Other plugins' namespaces (time, a network namespace to join...) stay; sharing the
  // host's stack means no network namespace, and a privileged box has no user namespace.
  const namespaces = spec.linux.namespaces.filter(
    (namespace) => !(namespace.type === 'network' && config.namespaces.network === 'host') && !(namespace.type === 'user' && !userns),
  );
  for (const type of wanted) if (!namespaces.some((namespace) => namespace.type === type)) namespaces.push({ type });
  spec.linux.namespaces = namespaces;
}

/**
 * A bind is nodev (the box opens devices through its own /dev and the device allowlist);
 * an idmapped one is nosuid too unless the admin lets setuid files work there: what the
 * box's root makes in it is owned by host root on disk.
 */
function bindMount(mount: BindMountConfig, mappings: { uid: OciIdMapping[]; gid: OciIdMapping[] } | undefined, setuid: boolean): OciMount {
  const idmapped = mount.idmap && mappings !== undefined;
  const attributes = idmapped && !setuid ? ['nodev', 'nosuid'] : ['nodev'];
  const options: string[] = [...mount.options.filter((option) => !attributes.includes(option)), ...attributes];
  if (!options.includes('bind') && !options.includes('rbind') && !options.includes('rro')) options.unshift('rbind');
  const result: OciMount & { uidMappings?: OciIdMapping[]; gidMappings?: OciIdMapping[] } = {
    destination: mount.destination,
    type: 'bind',
    source: mount.source,
    options,
  };
  if (idmapped) {
    result.uidMappings = mappings.uid;
    result.gidMappings = mappings.gid;
  }
  return result;
}

const hidepidValues = { off: undefined, noaccess: 'noaccess', invisible: 'invisible' } as const;

function procfsOptions(spec: OciSpec, config: IsolationConfig): void {
  const proc = spec.mounts.find((mount) => mount.destination === '/proc' && mount.type === 'proc');
  if (!proc) return;
  const options = (proc.options ?? []).filter((option) => !option.startsWith('hidepid=') && !option.startsWith('subset='));
  const hidepid = hidepidValues[config.procfs.hidepid];
  if (hidepid) options.push(`hidepid=${hidepid}`);
  if (config.procfs.subsetPid) options.push('subset=pid');
  proc.options = options;
}

/**
 * sysfs: read-only always. A box in a user namespace that shares the host's network
 * namespace may not mount sysfs (the kernel ties sysfs to the network namespace's owner),
 * so it gets a read-only recursive bind of the host's instead, as runc does.
 */
function sysfs(spec: OciSpec, config: IsolationConfig, userns: boolean): void {
  const index = spec.mounts.findIndex((mount) => mount.destination === '/sys');
  if (index < 0) return;
  const mount = spec.mounts[index] as OciMount;
  if (userns && config.namespaces.network === 'host') {
    spec.mounts[index] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    return;
  }
  mount.options = union(
    (mount.options ?? []).filter((option) => option !== 'rw'),
    ['nosuid', 'noexec', 'nodev', 'ro'],
  );
}

export function applyIsolation(spec: OciSpec, config: IsolationConfig, facts: IsolationFacts): void {
  const mappings = idMappings(config, facts);
  const userns = mappings !== undefined;
  const setuid = facts.settings?.setuidInIdmappedMounts ?? false;
  setNamespaces(spec, config, userns);
  // Device nodes in the rootfs never open (nsbox's own /dev is a mount of its own); in an
  // idmapped rootfs setuid files raise nobody unless the admin says so.
  // The rootfs stays owned by host uid 0 on disk; with a user namespace the box sees it as its own.
  contributeLaunch(spec, { rootfsOptions: userns && !setuid ? ['nodev', 'nosuid'] : ['nodev'], rootfsIdmap: mappings !== undefined });
  if (mappings) {
    spec.linux.uidMappings = mappings.uid;
    spec.linux.gidMappings = mappings.gid;
  } else {
    delete spec.linux.uidMappings;
    delete spec.linux.gidMappings;
  }

  spec.linux.maskedPaths = union(spec.linux.maskedPaths, maskedPaths);
  spec.linux.readonlyPaths = union(spec.linux.readonlyPaths, readonlyPaths);
  if (config.readonlyRoot) spec.root.readonly = true;
  procfsOptions(spec, config);
  sysfs(spec, config, userns);
  spec.mounts.push(...config.mounts.map((mount) => bindMount(mount, mappings, setuid)));
  // A bind that receives the host's later mounts needs the box's copy of the host tree to
  // stay a slave of it while the binds are made (a private copy would cut the link first).
  const propagating = config.mounts.some((mount) => mount.options.some((option) => /^r?(slave|shared)$/.test(option)));
  if (propagating && (spec.linux.rootfsPropagation ?? 'private').replace(/^r/, '') === 'private') spec.linux.rootfsPropagation = 'rslave';

  const start = spec.process.capabilities?.bounding ?? [];
  const capabilities = effectiveCapabilities(start, config.capabilities.add, config.capabilities.drop);
  spec.process.capabilities = {
    ...spec.process.capabilities,
    bounding: capabilities,
    effective: capabilities,
    permitted: capabilities,
  };
  spec.process.noNewPrivileges = config.noNewPrivileges;

  if (config.seccomp.profile === 'default') {
    spec.linux.seccomp = defaultSeccompProfile({
      capabilities,
      allow: config.seccomp.allow,
      deny: config.seccomp.deny,
      realtime: facts.settings?.realtimeScheduling ?? false,
    });
  } else {
    delete spec.linux.seccomp;
  }

  spec.linux.resources = {
    ...spec.linux.resources,
    devices: facts.devices.rules.map((rule) => ({
      allow: rule.allow,
      type: rule.type,
      ...(rule.major === undefined ? {} : { major: rule.major }),
      ...(rule.minor === undefined ? {} : { minor: rule.minor }),
      access: rule.access,
    })),
  };
  if (facts.devices.nodes.length > 0) {
    spec.linux.devices = [
      ...(spec.linux.devices ?? []),
      ...facts.devices.nodes.map((node) => ({ path: node.path, type: node.type, major: node.major, minor: node.minor })),
    ];
  }
}
