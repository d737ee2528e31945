/**
 * Compiles an OCI runtime spec into the launch program the native launcher executes
 * (native/PROTOCOL.md §1). All policy is decided here; the launcher only carries it out.
 */

import { NsboxError, type OciIdMapping, type OciMount, type OciSpec } from '@nsbox/core';
import type { LaunchOp } from '@nsbox/native';
import { LAUNCH_ANNOTATION, launchContributions, notifyRules } from '@nsbox/runtime-api';

/** Mount options that are flags (the launcher maps them); anything else is filesystem data. */
const mountFlags = new Set([
  'defaults',
  'ro',
  'rw',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'noexec',
  'exec',
  'sync',
  'async',
  'dirsync',
  'mand',
  'nomand',
  'noatime',
  'atime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'nodiratime',
  'diratime',
  'lazytime',
  'nolazytime',
  'nosymfollow',
  'symfollow',
  'bind',
  'rbind',
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
  'unbindable',
  'runbindable',
  'tmpcopyup',
]);

const namespaceNames: Record<string, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

/** Device nodes every box gets when /dev is a fresh tmpfs (runc's default set). */
export const defaultDevices = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

const rootAttributeNames = new Set(['ro', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'relatime', 'strictatime', 'nosymfollow']);

/** Mount attributes of the box's root (`nosuid,nodev`), from the plugins' launch contributions. */
function rootAttributes(spec: OciSpec): string[] {
  const attributes = launchContributions(spec).rootfsOptions ?? [];
  const unknown = attributes.find((attribute) => !rootAttributeNames.has(attribute));
  if (unknown) {
    throw new NsboxError('E_INVALID_CONFIG', `rootfs option '${unknown}' is not a mount attribute`, {
      details: { field: `annotations.${LAUNCH_ANNOTATION}.rootfsOptions` },
    });
  }
  return attributes;
}

export interface CompileContext {
  /** cgroup.procs files the launcher joins before cloning (packages/runtime/src/cgroup). */
  procsFiles: string[];
  /** The box's cgroup2 directory, where cgroup BPF programs attach (v2 and hybrid hosts). */
  unifiedDir?: string;
  /** The shim's `notify.sock`, where the launcher sends the seccomp listener (boxes with notify rules). */
  notifySocket?: string;
  /** The runtime's directory of compiled seccomp filters (root's, 0700): the launcher reads a box's filter there instead of compiling it. */
  seccompCache?: string;
}

/** An OCI `linux.resources.devices` entry. */
interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

type IdMappedMount = OciMount & { uidMappings?: OciIdMapping[]; gidMappings?: OciIdMapping[] };

/** Fields of the OCI runtime spec the core's OciSpec type leaves out, compiled here. */
interface OciProcessExtras {
  user: { umask?: number };
  scheduler?: { policy: string; nice?: number; priority?: number; flags?: string[]; runtime?: number; deadline?: number; period?: number };
  ioPriority?: { class: string; priority?: number };
}
interface OciLinuxExtras {
  memoryPolicy?: { mode: string; nodes?: string; flags?: string[] };
  personality?: { domain: string; flags?: string[] };
  seccomp?: { flags?: string[] };
}
type OciDevice = NonNullable<OciSpec['linux']['devices']>[number];

function processExtras(spec: OciSpec): OciProcessExtras {
  return spec.process as unknown as OciProcessExtras;
}

function linuxExtras(spec: OciSpec): OciLinuxExtras {
  return spec.linux as unknown as OciLinuxExtras;
}

/** The recursive mount attributes of the OCI spec (mount_setattr with AT_RECURSIVE). */
export const recursiveMountAttributes: readonly string[] = [
  'rro',
  'rrw',
  'rnosuid',
  'rsuid',
  'rnodev',
  'rdev',
  'rnoexec',
  'rexec',
  'rnoatime',
  'ratime',
  'rnodiratime',
  'rdiratime',
  'rrelatime',
  'rnorelatime',
  'rstrictatime',
  'rnostrictatime',
  'rnosymfollow',
  'rsymfollow',
];
const recursiveAttributes = new Set(recursiveMountAttributes);

/**
 * OCI `rro`, `rnosuid`...: the attribute on the whole tree, i.e. on a bind a recursive bind
 * whose clone gets the attribute with AT_RECURSIVE; another mount has no submounts yet.
 */
function normaliseOptions(options: string[]): string[] {
  const recursive = options.filter((option) => recursiveAttributes.has(option));
  if (recursive.length === 0) return options;
  const rest = options.filter((option) => !recursiveAttributes.has(option));
  const bind = rest.includes('bind') || rest.includes('rbind') || options.includes('rro');
  return [...rest.filter((option) => option !== 'bind' && option !== 'rbind'), ...(bind ? ['rbind'] : []), ...recursive.map((option) => option.slice(1))];
}

function mountOp(mount: OciMount): LaunchOp {
  const options = normaliseOptions(mount.options ?? []).filter((option) => option !== 'idmap' && option !== 'ridmap');
  const flags = options.filter((option) => mountFlags.has(option));
  const data = options.filter((option) => !mountFlags.has(option));
  const isBind = mount.type === 'bind' || flags.includes('bind') || flags.includes('rbind');
  if (isBind && !flags.includes('bind') && !flags.includes('rbind')) flags.push('rbind');
  if (!mount.destination.startsWith('/')) {
    throw new NsboxError('E_INVALID_CONFIG', `mount destination '${mount.destination}' must be absolute`, { details: { field: 'mounts.destination' } });
  }
  if (isBind && isIdMapped(mount)) flags.push('idmap');
  return ['mount', mount.source ?? mount.type ?? 'none', mount.destination, isBind ? '' : (mount.type ?? 'none'), flags.join(','), data.join(',')];
}

function isIdMapped(mount: IdMappedMount): boolean {
  return Boolean(mount.uidMappings?.length || mount.gidMappings?.length);
}

function sameMappings(a: OciIdMapping[] | undefined, b: OciIdMapping[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

const attributeNames = ['ro', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'relatime', 'strictatime', 'nosymfollow'];

function isHostBind(mount: OciMount): boolean {
  const options = mount.options ?? [];
  return (mount.type === 'bind' || options.includes('bind') || options.includes('rbind') || options.includes('rro')) && Boolean(mount.source?.startsWith('/'));
}

/**
 * The trees the launcher's parent prepares (native/PROTOCOL.md §1 `tree`): the idmapped
 * rootfs and every idmapped bind mount. The kernel ties an idmap to a user namespace: the
 * box's when a mount's mappings are the box's own, else one the launcher makes with the
 * mount's mappings (`tree PATH FLAGS UIDMAP GIDMAP`). In a box with a
 * user namespace of its own, plain host binds (and the rootfs) are prepared the same way
 * without an idmap: the launcher opens their sources with the host's credentials, which
 * the box's root may lack (a source below a root-only directory).
 */
/**
 * The flags of the `tree` the launcher makes of the box's root, or undefined when the root
 * is bound in the box as it is (no user namespace). A restore rebuilds the same root.
 */
export function rootTreeFlags(spec: OciSpec, userns: boolean): string | undefined {
  if (launchContributions(spec).rootfsIdmap) {
    if (!userns) {
      throw new NsboxError('E_INVALID_CONFIG', 'an idmapped rootfs needs a user namespace', {
        details: { field: `annotations.${LAUNCH_ANNOTATION}.rootfsIdmap` },
      });
    }
    return ['rbind', 'idmap', ...rootAttributes(spec)].join(',');
  }
  return userns ? ['rbind', ...rootAttributes(spec)].join(',') : undefined;
}

function treeOps(spec: OciSpec, userns: boolean): LaunchOp[] {
  const ops: LaunchOp[] = [];
  const rootFlags = rootTreeFlags(spec, userns);
  if (rootFlags) ops.push(['tree', spec.root.path, rootFlags]);
  spec.mounts.forEach((mount: IdMappedMount, index) => {
    const options = normaliseOptions(mount.options ?? []);
    const attributes = options.filter((option) => attributeNames.includes(option));
    if (!isIdMapped(mount)) {
      if (userns && isHostBind(mount)) {
        ops.push(['tree', mount.source as string, [options.includes('bind') && !options.includes('rbind') ? 'bind' : 'rbind', ...attributes].join(',')]);
      }
      return;
    }
    const field = `mounts[${index}].uidMappings`;
    if (!mount.source?.startsWith('/'))
      throw new NsboxError('E_INVALID_CONFIG', `idmapped mount '${mount.destination}' needs an absolute source`, { details: { field } });
    const recursive = !options.includes('bind') || options.includes('rbind') || options.includes('ridmap');
    const flags = [recursive ? 'rbind' : 'bind', 'idmap', ...attributes].join(',');
    if (userns && sameMappings(mount.uidMappings, spec.linux.uidMappings) && sameMappings(mount.gidMappings, spec.linux.gidMappings)) {
      ops.push(['tree', mount.source, flags]);
      return;
    }
    // Mappings of its own: the launcher makes a user namespace with them for this idmap.
    if (!mount.uidMappings?.length || !mount.gidMappings?.length) {
      throw new NsboxError('E_INVALID_CONFIG', `idmapped mount '${mount.destination}' with mappings of its own needs both uidMappings and gidMappings`, {
        details: { field },
      });
    }
    ops.push(['tree', mount.source, flags, idMapText(mount.uidMappings, 'uid'), idMapText(mount.gidMappings, 'gid')]);
  });
  return ops;
}

/** `linux.resources.devices` as `bpf.devices` rules (`TYPE:MAJOR:MINOR:ACCESS:allow|deny`). */
function deviceRuleText(rule: OciDeviceRule, index: number): string {
  const field = `linux.resources.devices[${index}]`;
  const type = rule.type ?? 'a';
  const access = rule.access ?? 'rwm';
  if (!['a', 'b', 'c'].includes(type)) throw new NsboxError('E_INVALID_CONFIG', `device rule type '${type}' must be a, b or c`, { details: { field } });
  if (!/^[rwm]{1,3}$/.test(access)) throw new NsboxError('E_INVALID_CONFIG', `device rule access '${access}' must be letters of rwm`, { details: { field } });
  const number = (value: number | null | undefined) => (value === undefined || value === null || value < 0 ? '*' : String(value));
  return `${type}:${number(rule.major)}:${number(rule.minor)}:${access}:${rule.allow ? 'allow' : 'deny'}`;
}

/** cgroup BPF programs the launcher attaches before it clones (host ops). */
function bpfOps(spec: OciSpec, context: CompileContext): LaunchOp[] {
  const ops: LaunchOp[] = [];
  const devices = (spec.linux.resources as { devices?: OciDeviceRule[] } | undefined)?.devices;
  // On cgroup v1 the devices controller's files carry the rules (the isolation plugin writes
  // them); the BPF program is cgroup2's way, and on a hybrid host both apply.
  if (devices && context.unifiedDir) ops.push(['bpf.devices', context.unifiedDir, ...devices.map(deviceRuleText)]);
  // IP confinement on the host's stack: binds, connects and sends limited to these addresses.
  const confinement = launchContributions(spec).ipConfinement;
  if (confinement !== undefined) {
    if (!context.unifiedDir) {
      throw new NsboxError('E_UNSUPPORTED', 'IP confinement needs a cgroup2 hierarchy (cgroup BPF attaches to cgroup2 directories only)', {
        details: { field: `annotations.${LAUNCH_ANNOTATION}.ipConfinement` },
      });
    }
    ops.push(['bpf.inet', context.unifiedDir, ...confinement.map((address) => address.trim()).filter(Boolean)]);
  }
  return ops;
}

/**
 * Device nodes of `linux.devices`, anywhere in the box: in a user namespace (which cannot
 * mknod a device) character and block devices are bind mounts of the host's node at the
 * same path, owned as on the host; fifos are made (a user namespace may). Otherwise mknod,
 * owned by uid/gid when the spec gives them.
 */
function deviceNodeOps(spec: OciSpec, userns: boolean): LaunchOp[] {
  return (spec.linux.devices ?? []).map((device: OciDevice, index): LaunchOp => {
    const field = `linux.devices[${index}]`;
    if (!device.path.startsWith('/')) {
      throw new NsboxError('E_INVALID_CONFIG', `device path '${device.path}' must be absolute`, { details: { field: `${field}.path` } });
    }
    if (!['c', 'b', 'u', 'p'].includes(device.type)) {
      throw new NsboxError('E_INVALID_CONFIG', `device '${device.path}' type must be c, b, u or p`, { details: { field: `${field}.type` } });
    }
    const type = device.type === 'u' ? 'c' : device.type; // `u`: an unbuffered character device
    if (userns && type !== 'p') return ['dev.bind', device.path, device.path];
    const owner = device.uid !== undefined || device.gid !== undefined ? [String(device.uid ?? 0), String(device.gid ?? 0)] : [];
    const number = (value: number | undefined) => String(type === 'p' ? 0 : (value ?? 0));
    // Permission bits only: podman writes Go's FileMode with the file type in it (S_IFCHR | 0666),
    // which runc and crun accept; the type is `type`'s.
    const mode = (device.fileMode ?? 0o666) & 0o7777;
    return ['mknod', device.path, type, number(device.major), number(device.minor), mode.toString(8), ...owner];
  });
}

export function idMapText(mappings: OciIdMapping[], kind: 'uid' | 'gid'): string {
  for (const mapping of mappings) {
    const fields = [mapping.containerID, mapping.hostID, mapping.size];
    if (!fields.every((value) => Number.isInteger(value) && value >= 0 && value <= 0xffffffff) || mapping.size === 0) {
      throw new NsboxError('E_INVALID_CONFIG', `${kind} mapping ${JSON.stringify(mapping)} does not fit: ids must be 0..2^32-1 and size > 0`, {
        details: { field: `linux.${kind}Mappings` },
      });
    }
    if (mapping.hostID + mapping.size > 0x100000000 || mapping.containerID + mapping.size > 0x100000000) {
      throw new NsboxError('E_INVALID_CONFIG', `${kind} mapping ${JSON.stringify(mapping)} does not fit in the 32-bit id space`, {
        details: { field: `linux.${kind}Mappings` },
      });
    }
  }
  return mappings.map((mapping) => `${mapping.containerID} ${mapping.hostID} ${mapping.size}\n`).join('');
}

function hasMountAt(spec: OciSpec, destination: string, type?: string): boolean {
  return spec.mounts.some((mount) => mount.destination === destination && (!type || mount.type === type));
}

/** Device nodes and symlinks for a fresh /dev tmpfs; bind mounts because a user ns cannot mknod. */
function minimalDevOps(spec: OciSpec): LaunchOp[] {
  const ops: LaunchOp[] = defaultDevices.map((name) => ['dev.bind', `/dev/${name}`, `/dev/${name}`]);
  if (hasMountAt(spec, '/dev/pts', 'devpts')) ops.push(['symlink', 'pts/ptmx', '/dev/ptmx']);
  // The box's own terminal (never the host console, 5:1); a box without one has no /dev/console.
  if (spec.process.terminal) ops.push(['console', '/dev/console']);
  ops.push(
    ['symlink', '/proc/self/fd', '/dev/fd'],
    ['symlink', '/proc/self/fd/0', '/dev/stdin'],
    ['symlink', '/proc/self/fd/1', '/dev/stdout'],
    ['symlink', '/proc/self/fd/2', '/dev/stderr'],
  );
  if (hasMountAt(spec, '/proc', 'proc')) ops.push(['symlink', '/proc/kcore', '/dev/core']);
  return ops;
}

function seccompOps(seccomp: NonNullable<OciSpec['linux']['seccomp']>): LaunchOp[] {
  const action = (name: string, errnoRet?: number): string => {
    switch (name) {
      case 'SCMP_ACT_ALLOW':
        return 'allow';
      case 'SCMP_ACT_ERRNO':
        return `errno:${errnoRet ?? 1}`;
      case 'SCMP_ACT_KILL':
      case 'SCMP_ACT_KILL_THREAD':
        return 'kill';
      case 'SCMP_ACT_KILL_PROCESS':
        return 'kill_process';
      case 'SCMP_ACT_TRAP':
        return 'trap';
      case 'SCMP_ACT_LOG':
        return 'log';
      case 'SCMP_ACT_TRACE':
        return `trace:${errnoRet ?? 0}`;
      case 'SCMP_ACT_NOTIFY':
        return 'notify';
      default:
        throw new NsboxError('E_UNSUPPORTED', `seccomp action '${name}' is not supported`, { details: { field: 'linux.seccomp' } });
    }
  };
  const opNames: Record<string, string> = {
    SCMP_CMP_NE: 'ne',
    SCMP_CMP_LT: 'lt',
    SCMP_CMP_LE: 'le',
    SCMP_CMP_EQ: 'eq',
    SCMP_CMP_GE: 'ge',
    SCMP_CMP_GT: 'gt',
    SCMP_CMP_MASKED_EQ: 'masked_eq',
  };
  const ops: LaunchOp[] = [['seccomp.default', action(seccomp.defaultAction, seccomp.defaultErrnoRet)]];
  for (const flag of (seccomp as OciLinuxExtras['seccomp'])?.flags ?? []) ops.push(['seccomp.flag', flag]);
  for (const arch of seccomp.architectures ?? []) ops.push(['seccomp.arch', arch.replace(/^SCMP_ARCH_/, '').toLowerCase()]);
  for (const rule of seccomp.syscalls ?? []) {
    const args = (rule.args ?? []).map((arg) => {
      const op = opNames[arg.op];
      if (!op) throw new NsboxError('E_UNSUPPORTED', `seccomp operator '${arg.op}' is not supported`, { details: { field: 'linux.seccomp.syscalls' } });
      // OCI's masked_eq is `(arg & value) == valueTwo`; the launcher's condition is
      // `index:masked_eq:DATUM:MASK`, the mask last.
      if (op === 'masked_eq') return `${arg.index}:${op}:${arg.valueTwo ?? 0}:${arg.value}`;
      return `${arg.index}:${op}:${arg.value}${arg.valueTwo !== undefined ? `:${arg.valueTwo}` : ''}`;
    });
    for (const name of rule.names) ops.push(['seccomp.rule', action(rule.action, rule.errnoRet), name, ...args]);
  }
  ops.push(['seccomp.load']);
  return ops;
}

/**
 * The box's filter with the plugins' notify rules in it (`contributeNotify`): added to the
 * spec's profile, or to an allow-all filter when the spec has none. A rule of the profile
 * naming a notified syscall yields to the notify rule (libseccomp takes one action per
 * syscall): the handler answers it now.
 */
export function effectiveSeccomp(spec: OciSpec): OciSpec['linux']['seccomp'] {
  const notified = [...new Set(notifyRules(spec).map((rule) => rule.syscall))];
  if (notified.length === 0) return spec.linux.seccomp;
  const base = spec.linux.seccomp ?? { defaultAction: 'SCMP_ACT_ALLOW' };
  const syscalls = (base.syscalls ?? [])
    .map((rule) => ({ ...rule, names: rule.names.filter((name) => !notified.includes(name)) }))
    .filter((rule) => rule.names.length > 0);
  return { ...base, syscalls: [...syscalls, { names: notified, action: 'SCMP_ACT_NOTIFY' }] };
}

/** `seccomp.cache`: a box with a filter has it compiled once, then read back (launcher-seccomp-cache.c). */
function seccompCacheOps(spec: OciSpec, context: CompileContext): LaunchOp[] {
  return context.seccompCache && effectiveSeccomp(spec) ? [['seccomp.cache', context.seccompCache]] : [];
}

/** `seccomp.listener` to the shim, for a box with notify rules (the same op nsbox-runc uses for an OCI agent). */
function notifyListenerOps(spec: OciSpec, context: CompileContext): LaunchOp[] {
  if (notifyRules(spec).length === 0) return [];
  if (!context.notifySocket) throw new NsboxError('E_RUNTIME', 'the box has seccomp notify rules but no notify socket to send its listener to');
  return [['seccomp.listener', context.notifySocket, '{}']];
}

/** The program that creates a box and execs its init. */
export function compileCreateProgram(spec: OciSpec, context: CompileContext): LaunchOp[] {
  const ops: LaunchOp[] = [['mode', 'create']];
  for (const file of context.procsFiles) ops.push(['cgroup.procs', file]);
  ops.push(...seccompCacheOps(spec, context));

  const fresh: string[] = [];
  for (const namespace of spec.linux.namespaces) {
    const name = namespaceNames[namespace.type];
    if (!name) throw new NsboxError('E_UNSUPPORTED', `namespace type '${namespace.type}' is not supported`, { details: { field: 'linux.namespaces' } });
    if (namespace.path) ops.push(['join.ns', name, namespace.path]);
    else fresh.push(name);
  }
  ops.push(['namespaces', ...fresh]);
  ops.push(...bpfOps(spec, context));
  ops.push(...notifyListenerOps(spec, context));
  for (const [clock, offset] of Object.entries(spec.linux.timeOffsets ?? {})) {
    ops.push(['timens.offset', clock, String(offset.secs), String(offset.nanosecs ?? 0)]);
  }

  if (fresh.includes('user')) {
    // No mappings: the launcher's own ids (host root) as the box's root, and nothing else,
    // as crun does. setgroups stays allowed, as runc and crun leave it when root made the
    // namespace: additionalGids need it, and no host group follows the box in.
    const own = [{ containerID: 0, hostID: 0, size: 1 }];
    const uidMappings = spec.linux.uidMappings?.length ? spec.linux.uidMappings : own;
    const gidMappings = spec.linux.gidMappings?.length ? spec.linux.gidMappings : own;
    ops.push(['uidmap', idMapText(uidMappings, 'uid')], ['setgroups', 'allow'], ['gidmap', idMapText(gidMappings, 'gid')]);
  }
  ops.push(...treeOps(spec, fresh.includes('user')));

  // treeOps refused an idmapped rootfs without a user namespace; in a user namespace the
  // root is a tree the launcher prepared (its attributes set there).
  const idmappedRoot = launchContributions(spec).rootfsIdmap === true;
  const rootFlags = idmappedRoot ? ['idmap'] : fresh.includes('user') ? [] : rootAttributes(spec);
  ops.push(rootFlags.length > 0 ? ['rootfs', spec.root.path, rootFlags.join(',')] : ['rootfs', spec.root.path]);
  ops.push(['propagation', (spec.linux.rootfsPropagation ?? 'private').replace(/^r/, '')]);
  if (fresh.includes('net')) ops.push(['loopback.up']);
  for (const mount of spec.mounts) ops.push(mountOp(mount));
  if (hasMountAt(spec, '/dev', 'tmpfs')) ops.push(...minimalDevOps(spec));
  ops.push(
    ...deviceNodeOps(
      spec,
      spec.linux.namespaces.some((namespace) => namespace.type === 'user'),
    ),
  );
  ops.push(['pivot_root']);
  // A missing working directory is made, as runc and crun do (before the root turns read-only).
  ops.push(['mkdir', spec.process.cwd, '755']);
  // Sysctls first: /proc/sys turns read-only just below.
  for (const [key, value] of Object.entries(spec.linux.sysctl ?? {})) ops.push(['sysctl', key, value]);
  // The root mount only, as runc does: /dev, /proc and binds inside it keep their own flags.
  if (spec.root.readonly) ops.push(['readonly', '/', 'top']);
  for (const path of spec.linux.maskedPaths ?? []) ops.push(['mask', path]);
  for (const path of spec.linux.readonlyPaths ?? []) ops.push(['readonly', path]);
  ops.push(...processOps(spec));
  return ops;
}

/** OCI writes RLIM_INFINITY as 2^64-1, which a JS number cannot hold exactly: anything past int64 is infinity. */
function rlimitText(value: number): string {
  return value >= 2 ** 63 ? 'unlimited' : String(value);
}

/** What the box's process gets, in create and join mode alike. */
function processOps(spec: OciSpec, args = spec.process.args): LaunchOp[] {
  const ops: LaunchOp[] = [];
  const process = spec.process;
  if (spec.hostname) ops.push(['hostname', spec.hostname]);
  if (spec.domainname) ops.push(['domainname', spec.domainname]);
  for (const limit of process.rlimits ?? []) ops.push(['rlimit', limit.type, rlimitText(limit.soft), rlimitText(limit.hard)]);
  if (process.oomScoreAdj !== undefined) ops.push(['oom_score_adj', String(process.oomScoreAdj)]);
  ops.push(...processAttributeOps(spec));
  if (process.user.additionalGids?.length) ops.push(['groups', ...process.user.additionalGids.map(String)]);
  ops.push(['user', String(process.user.uid), String(process.user.gid)]);
  ops.push(['cwd', process.cwd]);
  for (const variable of process.env ?? []) ops.push(['env', variable]);
  if (process.noNewPrivileges) ops.push(['no_new_privs']);
  const caps = process.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) ops.push(['caps', set, ...(caps[set] ?? [])]);
  const seccomp = effectiveSeccomp(spec);
  if (seccomp) ops.push(...seccompOps(seccomp));
  if (args.length === 0) throw new NsboxError('E_INVALID_CONFIG', 'process.args is empty: nothing to run', { details: { field: 'process.args' } });
  ops.push(['exec', ...args]);
  return ops;
}

/** umask, scheduler, I/O priority, memory policy, personality and HOME (launcher-process.c). */
function processAttributeOps(spec: OciSpec): LaunchOp[] {
  const ops: LaunchOp[] = [];
  const process = processExtras(spec);
  const linux = linuxExtras(spec);
  if (process.user.umask !== undefined) ops.push(['umask', process.user.umask.toString(8)]);
  const scheduler = process.scheduler;
  if (scheduler) {
    ops.push([
      'sched',
      scheduler.policy,
      String(scheduler.nice ?? 0),
      String(scheduler.priority ?? 0),
      (scheduler.flags ?? []).join(','),
      String(scheduler.runtime ?? 0),
      String(scheduler.deadline ?? 0),
      String(scheduler.period ?? 0),
    ]);
  }
  if (process.ioPriority) ops.push(['ioprio', process.ioPriority.class, String(process.ioPriority.priority ?? 0)]);
  const policy = linux.memoryPolicy;
  if (policy) ops.push(['mempolicy', policy.mode, (policy.flags ?? []).join(','), policy.nodes ?? '']);
  if (linux.personality && linux.personality.domain !== 'LINUX') ops.push(['personality', linux.personality.domain]);
  // HOME from the box's /etc/passwd when the environment has none (runc, crun).
  ops.push(['home']);
  return ops;
}

export interface JoinRequest {
  initPid: number;
  args: string[];
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid: number };
  tty?: boolean;
}

/** The program that runs one more process inside a running box (exec, enter). */
export function compileJoinProgram(spec: OciSpec, request: JoinRequest, context: CompileContext): LaunchOp[] {
  const ops: LaunchOp[] = [['mode', 'join']];
  for (const file of context.procsFiles) ops.push(['cgroup.procs', file]);
  ops.push(...seccompCacheOps(spec, context));
  const names = spec.linux.namespaces.map((namespace) => namespaceNames[namespace.type]).filter((name): name is string => Boolean(name));
  ops.push(['join.pid', String(request.initPid)], ['namespaces', ...names]);
  // The exec'd process's filter has a listener of its own: the box's shim serves it too.
  ops.push(...notifyListenerOps(spec, context));
  if (request.tty) ops.push(['tty']);
  // The box's hostname is already set in its UTS namespace; a joined process keeps it.
  const { hostname: _hostname, domainname: _domainname, ...boxSpec } = spec;
  const joined: OciSpec = {
    ...boxSpec,
    process: {
      ...spec.process,
      user: request.user ?? spec.process.user,
      cwd: request.cwd ?? spec.process.cwd,
      env: request.env ?? spec.process.env ?? [],
      // The box's rlimits hold for what is exec'd into it too (limits keeps them current).
      rlimits: spec.process.rlimits ?? [],
    },
  };
  ops.push(...processOps(joined, request.args));
  // Not for the box's init, for what is exec'd into it (runtime spec); the launcher moves
  // into the cgroup before it forks, so the final set is the one that applies.
  const affinity = (spec.process as { execCPUAffinity?: { initial?: string; final?: string } }).execCPUAffinity;
  const cpus = affinity?.final ?? affinity?.initial;
  if (cpus) ops.push(['affinity', cpus]);
  return ops;
}
