/**
 * config.json, field by field: what nsbox carries out, what it refuses. A field this runtime
 * cannot honour stops `create` with a message naming it — never ignored. The checks here are
 * about the shape and about what the runtime supports; the kernel has the last word on
 * values (a bad mount option fails the mount, with the launcher's message).
 */

import { NsboxError, type OciSpec } from '@nsbox/core';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_CONFIG', `${field}: ${message}`, { details: { field } });
}

export function unsupported(field: string, message: string): NsboxError {
  return new NsboxError('E_UNSUPPORTED', `${field} is not supported: ${message}`, { details: { field } });
}

/** Refuses keys of an object that are not in the list of known ones. */
function known(value: Json, field: string, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw unsupported(`${field}.${key}`, 'nsbox-runc does not know this field');
  }
}

function object(value: unknown, field: string, required = false): Json | undefined {
  if (value === undefined || value === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (!isObject(value)) throw invalid(field, 'must be an object');
  return value;
}

function array(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(field, 'must be an array');
  return value;
}

function string(value: unknown, field: string, required = false): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  return value;
}

function strings(value: unknown, field: string): string[] {
  return array(value, field).map((item, index) => string(item, `${field}[${index}]`, true) as string);
}

function integer(value: unknown, field: string, required = false): number | undefined {
  if (value === undefined || value === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(field, 'must be an integer');
  return value;
}

function boolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
  return value;
}

/** Set means refused, whatever the value (empty strings and lists count as unset). */
function refuseIfSet(value: unknown, field: string, why: string): void {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return;
  if (isObject(value) && Object.keys(value).length === 0) return;
  throw unsupported(field, why);
}

const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;

export const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** The seccomp actions the launcher carries out (native/PROTOCOL.md §1 seccomp.*). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_LOG',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_NOTIFY',
] as const;

/** Filter flags the launcher sets through libseccomp (SECCOMP_FILTER_FLAG_*). */
export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  // No libseccomp 2.5 attribute: the launcher loads the BPF with seccomp(2) itself for it.
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

/** Mount options that are not the kernel's: runtimes act on them, or they are refused. */
const RUNTIME_MOUNT_OPTIONS: Record<string, string | undefined> = {
  tmpcopyup: undefined, // the launcher copies the image's directory into the tmpfs
  notmpcopyup: undefined,
  z: 'SELinux relabelling (this host has no SELinux)',
  Z: 'SELinux relabelling (this host has no SELinux)',
  U: "chown of the volume to the box's user is the engine's job",
  copy: "copying image content into volumes is the engine's job",
  nocopy: "copying image content into volumes is the engine's job",
};

function checkVersion(raw: Json): void {
  const version = string(raw.ociVersion, 'ociVersion', true) as string;
  if (!/^1\.\d+\.\d+([-+].*)?$/.test(version)) {
    throw unsupported('ociVersion', `'${version}': nsbox-runc implements the OCI runtime spec 1.x`);
  }
}

function checkProcess(raw: Json): void {
  const process = object(raw.process, 'process');
  if (!process) throw invalid('process', 'is required (nsbox-runc runs a process)');
  known(process, 'process', [
    'terminal',
    'consoleSize',
    'cwd',
    'env',
    'args',
    'commandLine',
    'rlimits',
    'apparmorProfile',
    'capabilities',
    'noNewPrivileges',
    'oomScoreAdj',
    'scheduler',
    'selinuxLabel',
    'ioPriority',
    'execCPUAffinity',
    'user',
  ]);
  boolean(process.terminal, 'process.terminal');
  const size = object(process.consoleSize, 'process.consoleSize');
  if (size) {
    known(size, 'process.consoleSize', ['height', 'width']);
    integer(size.height, 'process.consoleSize.height', true);
    integer(size.width, 'process.consoleSize.width', true);
  }
  const cwd = string(process.cwd, 'process.cwd', true) as string;
  if (!cwd.startsWith('/')) throw invalid('process.cwd', `'${cwd}' must be an absolute path`);
  strings(process.env, 'process.env').forEach((variable, index) => {
    if (!variable.includes('=')) throw invalid(`process.env[${index}]`, `'${variable}' is not KEY=VALUE`);
  });
  const args = strings(process.args, 'process.args');
  if (args.length === 0) throw invalid('process.args', 'must name the program to run');
  refuseIfSet(process.commandLine, 'process.commandLine', 'it is for Windows');
  array(process.rlimits, 'process.rlimits').forEach((item, index) => {
    const limit = object(item, `process.rlimits[${index}]`, true) as Json;
    known(limit, `process.rlimits[${index}]`, ['type', 'soft', 'hard']);
    string(limit.type, `process.rlimits[${index}].type`, true);
    if (typeof limit.soft !== 'number' || typeof limit.hard !== 'number') throw invalid(`process.rlimits[${index}]`, 'soft and hard must be numbers');
  });
  refuseIfSet(process.apparmorProfile, 'process.apparmorProfile', 'AppArmor is not enabled on this host');
  refuseIfSet(process.selinuxLabel, 'process.selinuxLabel', 'SELinux is not enabled on this host');
  checkScheduler(process.scheduler);
  checkIoPriority(process.ioPriority);
  checkExecCpuAffinity(process.execCPUAffinity);
  const caps = object(process.capabilities, 'process.capabilities');
  if (caps) {
    known(caps, 'process.capabilities', ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']);
    for (const set of Object.keys(caps)) strings(caps[set], `process.capabilities.${set}`);
  }
  boolean(process.noNewPrivileges, 'process.noNewPrivileges');
  integer(process.oomScoreAdj, 'process.oomScoreAdj');
  const user = object(process.user, 'process.user', true) as Json;
  known(user, 'process.user', ['uid', 'gid', 'umask', 'additionalGids', 'username']);
  integer(user.uid, 'process.user.uid', true);
  integer(user.gid, 'process.user.gid', true);
  for (const [index, gid] of array(user.additionalGids, 'process.user.additionalGids').entries()) integer(gid, `process.user.additionalGids[${index}]`, true);
  const umask = integer(user.umask, 'process.user.umask');
  if (umask !== undefined && (umask < 0 || umask > 0o777)) throw invalid('process.user.umask', `${umask} is not a file mode mask (0 to 0777)`);
  refuseIfSet(user.username, 'process.user.username', 'it is for Windows');
}

const SCHED_POLICIES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE'];
const SCHED_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
];

function oneOf(value: string, field: string, names: readonly string[]): void {
  if (!names.includes(value)) throw invalid(field, `'${value}' is not one of ${names.join(', ')}`);
}

function checkScheduler(value: unknown): void {
  const scheduler = object(value, 'process.scheduler');
  if (!scheduler) return;
  known(scheduler, 'process.scheduler', ['policy', 'nice', 'priority', 'flags', 'runtime', 'deadline', 'period']);
  const policy = string(scheduler.policy, 'process.scheduler.policy', true) as string;
  oneOf(policy, 'process.scheduler.policy', SCHED_POLICIES);
  if (policy === 'SCHED_ISO') throw unsupported('process.scheduler.policy', 'SCHED_ISO: the Linux kernel does not implement it');
  const nice = integer(scheduler.nice, 'process.scheduler.nice');
  if (nice !== undefined && (nice < -20 || nice > 19)) throw invalid('process.scheduler.nice', `${nice} is not a nice value (-20 to 19)`);
  const priority = integer(scheduler.priority, 'process.scheduler.priority');
  if (priority !== undefined && (priority < 0 || priority > 99)) throw invalid('process.scheduler.priority', `${priority} is not a priority (0 to 99)`);
  for (const [index, flag] of strings(scheduler.flags, 'process.scheduler.flags').entries()) oneOf(flag, `process.scheduler.flags[${index}]`, SCHED_FLAGS);
  for (const key of ['runtime', 'deadline', 'period']) {
    const number = integer(scheduler[key], `process.scheduler.${key}`);
    if (number !== undefined && number < 0) throw invalid(`process.scheduler.${key}`, 'must not be negative');
  }
}

function checkIoPriority(value: unknown): void {
  const io = object(value, 'process.ioPriority');
  if (!io) return;
  known(io, 'process.ioPriority', ['class', 'priority']);
  oneOf(string(io.class, 'process.ioPriority.class', true) as string, 'process.ioPriority.class', ['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']);
  const priority = integer(io.priority, 'process.ioPriority.priority');
  if (priority !== undefined && (priority < 0 || priority > 7)) throw invalid('process.ioPriority.priority', `${priority} is not an I/O priority (0 to 7)`);
}

/** A list of cpus as the kernel writes them ("0-3,7"). */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function checkExecCpuAffinity(value: unknown): void {
  const affinity = object(value, 'process.execCPUAffinity');
  if (!affinity) return;
  known(affinity, 'process.execCPUAffinity', ['initial', 'final']);
  for (const key of ['initial', 'final']) {
    const list = string(affinity[key], `process.execCPUAffinity.${key}`);
    if (list !== undefined && !CPU_LIST.test(list)) throw invalid(`process.execCPUAffinity.${key}`, `'${list}' is not a cpu list such as 0-3,7`);
  }
}

const MPOL_MODES = ['MPOL_DEFAULT', 'MPOL_PREFERRED', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_LOCAL', 'MPOL_PREFERRED_MANY', 'MPOL_WEIGHTED_INTERLEAVE'];
const MPOL_FLAGS = ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'];

/** As crun checks it (runc and crun both refuse a policy without its mode). */
function checkMemoryPolicy(value: unknown): void {
  const policy = object(value, 'linux.memoryPolicy');
  if (!policy) return;
  known(policy, 'linux.memoryPolicy', ['mode', 'nodes', 'flags']);
  const mode = string(policy.mode, 'linux.memoryPolicy.mode', true) as string;
  oneOf(mode, 'linux.memoryPolicy.mode', MPOL_MODES);
  const flags = strings(policy.flags, 'linux.memoryPolicy.flags');
  for (const [index, flag] of flags.entries()) oneOf(flag, `linux.memoryPolicy.flags[${index}]`, MPOL_FLAGS);
  const nodes = string(policy.nodes, 'linux.memoryPolicy.nodes');
  if (mode === 'MPOL_DEFAULT' || mode === 'MPOL_LOCAL') return;
  if (flags.includes('MPOL_F_NUMA_BALANCING') && mode !== 'MPOL_BIND')
    throw invalid('linux.memoryPolicy.flags', `MPOL_F_NUMA_BALANCING goes with MPOL_BIND only, not ${mode}`);
  if (flags.includes('MPOL_F_RELATIVE_NODES') && flags.includes('MPOL_F_STATIC_NODES'))
    throw invalid('linux.memoryPolicy.flags', 'MPOL_F_RELATIVE_NODES and MPOL_F_STATIC_NODES cannot be combined');
  if (nodes === undefined || nodes === '') throw invalid('linux.memoryPolicy.nodes', `is required with ${mode}`);
  if (!CPU_LIST.test(nodes)) throw invalid('linux.memoryPolicy.nodes', `'${nodes}' is not a node list such as 0-3,7`);
}

function checkMounts(raw: Json): void {
  array(raw.mounts, 'mounts').forEach((item, index) => {
    const field = `mounts[${index}]`;
    const mount = object(item, field, true) as Json;
    known(mount, field, ['destination', 'type', 'source', 'options', 'uidMappings', 'gidMappings']);
    const destination = string(mount.destination, `${field}.destination`, true) as string;
    if (!destination.startsWith('/')) throw invalid(`${field}.destination`, `'${destination}' must be an absolute path`);
    string(mount.type, `${field}.type`);
    string(mount.source, `${field}.source`);
    for (const option of strings(mount.options, `${field}.options`)) {
      if (Object.hasOwn(RUNTIME_MOUNT_OPTIONS, option)) {
        const why = RUNTIME_MOUNT_OPTIONS[option];
        if (why) throw unsupported(`${field}.options '${option}'`, why);
      }
    }
  });
}

function checkHooks(raw: Json): void {
  const hooks = object(raw.hooks, 'hooks');
  if (!hooks) return;
  known(hooks, 'hooks', HOOK_NAMES);
  for (const name of HOOK_NAMES) {
    array(hooks[name], `hooks.${name}`).forEach((item, index) => {
      const field = `hooks.${name}[${index}]`;
      const hook = object(item, field, true) as Json;
      known(hook, field, ['path', 'args', 'env', 'timeout']);
      const path = string(hook.path, `${field}.path`, true) as string;
      if (!path.startsWith('/')) throw invalid(`${field}.path`, `'${path}' must be an absolute path`);
      strings(hook.args, `${field}.args`);
      strings(hook.env, `${field}.env`);
      const timeout = integer(hook.timeout, `${field}.timeout`);
      if (timeout !== undefined && timeout <= 0) throw invalid(`${field}.timeout`, 'must be more than 0 seconds');
    });
  }
}

function checkNamespaces(linux: Json, raw: Json): void {
  const seen = new Set<string>();
  array(linux.namespaces, 'linux.namespaces').forEach((item, index) => {
    const field = `linux.namespaces[${index}]`;
    const namespace = object(item, field, true) as Json;
    known(namespace, field, ['type', 'path']);
    const type = string(namespace.type, `${field}.type`, true) as string;
    if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) {
      throw invalid(`${field}.type`, `unknown namespace type '${type}' (one of ${NAMESPACE_TYPES.join(', ')})`);
    }
    if (seen.has(type)) throw invalid(`${field}.type`, `namespace '${type}' is listed twice`);
    seen.add(type);
    const path = string(namespace.path, `${field}.path`);
    if (path !== undefined && !path.startsWith('/')) throw invalid(`${field}.path`, `'${path}' must be an absolute path`);
  });
  if (!seen.has('mount')) throw unsupported('linux.namespaces', 'a box needs its own mount namespace (the launcher pivots into the rootfs)');
  if (raw.hostname && !seen.has('uts')) throw invalid('hostname', 'setting a hostname needs a uts namespace');
  if (raw.domainname && !seen.has('uts')) throw invalid('domainname', 'setting a domainname needs a uts namespace');
  // A new user namespace without mappings maps the launcher's own ids (root) to root, size 1, as crun does.
}

function checkMappings(linux: Json): void {
  for (const kind of ['uidMappings', 'gidMappings'] as const) {
    array(linux[kind], `linux.${kind}`).forEach((item, index) => {
      const field = `linux.${kind}[${index}]`;
      const mapping = object(item, field, true) as Json;
      known(mapping, field, ['containerID', 'hostID', 'size']);
      for (const key of ['containerID', 'hostID', 'size']) integer(mapping[key], `${field}.${key}`, true);
    });
  }
}

function checkSeccomp(linux: Json): void {
  const seccomp = object(linux.seccomp, 'linux.seccomp');
  if (!seccomp) return;
  known(seccomp, 'linux.seccomp', ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls']);
  const listenerPath = string(seccomp.listenerPath, 'linux.seccomp.listenerPath');
  if (listenerPath !== undefined && listenerPath !== '' && !listenerPath.startsWith('/'))
    throw invalid('linux.seccomp.listenerPath', `'${listenerPath}' must be an absolute path`);
  string(seccomp.listenerMetadata, 'linux.seccomp.listenerMetadata');
  let notifies = false;
  const action = (value: unknown, field: string) => {
    const name = string(value, field, true) as string;
    if (!(SECCOMP_ACTIONS as readonly string[]).includes(name)) throw unsupported(field, `seccomp action '${name}'`);
    if (name === 'SCMP_ACT_NOTIFY') notifies = true;
    return name;
  };
  if (action(seccomp.defaultAction, 'linux.seccomp.defaultAction') === 'SCMP_ACT_NOTIFY') {
    throw unsupported(
      'linux.seccomp.defaultAction',
      'SCMP_ACT_NOTIFY as the default action: libseccomp refuses it (every syscall, the handover of the listener included, would wait for the agent)',
    );
  }
  integer(seccomp.defaultErrnoRet, 'linux.seccomp.defaultErrnoRet');
  strings(seccomp.architectures, 'linux.seccomp.architectures');
  strings(seccomp.flags, 'linux.seccomp.flags').forEach((flag, index) => {
    oneOf(flag, `linux.seccomp.flags[${index}]`, SECCOMP_FLAGS);
  });
  array(seccomp.syscalls, 'linux.seccomp.syscalls').forEach((item, index) => {
    const field = `linux.seccomp.syscalls[${index}]`;
    const rule = object(item, field, true) as Json;
    known(rule, field, ['names', 'action', 'errnoRet', 'args']);
    const names = strings(rule.names, `${field}.names`);
    if (action(rule.action, `${field}.action`) === 'SCMP_ACT_NOTIFY' && names.includes('sendmsg')) {
      // The launcher hands the listener over with sendmsg, after the load: it would wait for itself.
      throw unsupported(`${field}.action`, 'SCMP_ACT_NOTIFY for sendmsg: the launcher sends the listener to the agent with sendmsg once the filter is loaded');
    }
    integer(rule.errnoRet, `${field}.errnoRet`);
    array(rule.args, `${field}.args`).forEach((argItem, argIndex) => {
      const argField = `${field}.args[${argIndex}]`;
      const arg = object(argItem, argField, true) as Json;
      known(arg, argField, ['index', 'value', 'valueTwo', 'op']);
      integer(arg.index, `${argField}.index`, true);
      const op = string(arg.op, `${argField}.op`, true) as string;
      if (!(SECCOMP_OPERATORS as readonly string[]).includes(op)) throw unsupported(`${argField}.op`, `seccomp operator '${op}'`);
    });
  });
  if (notifies && !listenerPath) throw invalid('linux.seccomp.listenerPath', 'is required with SCMP_ACT_NOTIFY (the agent that gets the listener)');
}

/** A Linux interface name: 1-15 bytes, no '/', ':' or white space, not '.' or '..' (dev_valid_name). */
const IFNAME = /^[^/:\s]{1,15}$/;

function checkNetDevices(linux: Json): void {
  const devices = object(linux.netDevices, 'linux.netDevices');
  if (!devices || Object.keys(devices).length === 0) return;
  const network = (linux.namespaces as Json[]).find((namespace) => namespace.type === 'network');
  if (!network) throw invalid('linux.netDevices', "needs a network namespace of the box's: without one the devices would stay on the host");
  const names = new Set<string>();
  for (const [host, value] of Object.entries(devices)) {
    const field = `linux.netDevices.${host}`;
    if (!IFNAME.test(host) || host === '.' || host === '..') throw invalid(field, `'${host}' is not a network device name`);
    const device = object(value, field, true) as Json;
    known(device, field, ['name']);
    const name = string(device.name, `${field}.name`) || host;
    if (!IFNAME.test(name) || name === '.' || name === '..')
      throw invalid(`${field}.name`, `'${name}' is not a network device name (1-15 bytes, no '/', ':' or space)`);
    if (names.has(name)) throw invalid(`${field}.name`, `'${name}' is given to two devices`);
    names.add(name);
  }
}

function checkLinux(raw: Json): void {
  const linux = object(raw.linux, 'linux');
  if (!linux) throw invalid('linux', 'is required (nsbox-runc runs Linux boxes)');
  known(linux, 'linux', [
    'namespaces',
    'uidMappings',
    'gidMappings',
    'timeOffsets',
    'devices',
    'cgroupsPath',
    'resources',
    'rootfsPropagation',
    'seccomp',
    'sysctl',
    'maskedPaths',
    'readonlyPaths',
    'mountLabel',
    'intelRdt',
    'personality',
    'memoryPolicy',
    'netDevices',
  ]);
  checkNamespaces(linux, raw);
  checkMappings(linux);
  const offsets = object(linux.timeOffsets, 'linux.timeOffsets');
  if (offsets) {
    known(offsets, 'linux.timeOffsets', ['monotonic', 'boottime']);
    if (!(linux.namespaces as Json[]).some((namespace) => namespace.type === 'time')) throw invalid('linux.timeOffsets', 'needs a time namespace');
    for (const [clock, value] of Object.entries(offsets)) {
      const offset = object(value, `linux.timeOffsets.${clock}`, true) as Json;
      known(offset, `linux.timeOffsets.${clock}`, ['secs', 'nanosecs']);
      integer(offset.secs, `linux.timeOffsets.${clock}.secs`);
      integer(offset.nanosecs, `linux.timeOffsets.${clock}.nanosecs`);
    }
  }
  array(linux.devices, 'linux.devices').forEach((item, index) => {
    const field = `linux.devices[${index}]`;
    const device = object(item, field, true) as Json;
    known(device, field, ['type', 'path', 'major', 'minor', 'fileMode', 'uid', 'gid']);
    const type = string(device.type, `${field}.type`, true) as string;
    if (!['c', 'b', 'u', 'p'].includes(type)) throw invalid(`${field}.type`, `'${type}' must be c, b, u or p`);
    const path = string(device.path, `${field}.path`, true) as string;
    if (!path.startsWith('/')) throw invalid(`${field}.path`, `'${path}' must be an absolute path`);
    if (type !== 'p') {
      integer(device.major, `${field}.major`, true);
      integer(device.minor, `${field}.minor`, true);
    }
    for (const key of ['fileMode', 'uid', 'gid']) integer(device[key], `${field}.${key}`);
  });
  string(linux.cgroupsPath, 'linux.cgroupsPath');
  object(linux.resources, 'linux.resources');
  const propagation = string(linux.rootfsPropagation, 'linux.rootfsPropagation');
  if (
    propagation !== undefined &&
    propagation !== '' &&
    !['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'].includes(propagation)
  ) {
    throw invalid('linux.rootfsPropagation', `'${propagation}' is not one of private, slave, shared, unbindable (or their r forms)`);
  }
  checkSeccomp(linux);
  const sysctl = object(linux.sysctl, 'linux.sysctl') ?? {};
  for (const [key, value] of Object.entries(sysctl)) string(value, `linux.sysctl.${key}`, true);
  strings(linux.maskedPaths, 'linux.maskedPaths');
  strings(linux.readonlyPaths, 'linux.readonlyPaths');
  refuseIfSet(linux.mountLabel, 'linux.mountLabel', 'SELinux is not enabled on this host');
  refuseIfSet(linux.intelRdt, 'linux.intelRdt', 'the kernel of this host has no resctrl filesystem (Intel RDT)');
  checkMemoryPolicy(linux.memoryPolicy);
  checkNetDevices(linux);
  const personality = object(linux.personality, 'linux.personality');
  if (personality) {
    known(personality, 'linux.personality', ['domain', 'flags']);
    oneOf(string(personality.domain, 'linux.personality.domain', true) as string, 'linux.personality.domain', ['LINUX', 'LINUX32']);
    refuseIfSet(personality.flags, 'linux.personality.flags', 'the runtime spec defines no personality flag');
  }
}

/**
 * Checks a parsed config.json; returns it typed. Throws E_INVALID_CONFIG for a malformed
 * field and E_UNSUPPORTED for one nsbox cannot honour, the field named in both.
 */
export function checkSpec(raw: unknown): OciSpec {
  const spec = object(raw, 'config.json', true) as Json;
  known(spec, '(config.json)', [
    'ociVersion',
    'process',
    'root',
    'hostname',
    'domainname',
    'mounts',
    'hooks',
    'annotations',
    'linux',
    'solaris',
    'windows',
    'vm',
    'zos',
  ]);
  for (const platform of ['solaris', 'windows', 'vm', 'zos']) refuseIfSet(spec[platform], platform, 'nsbox-runc runs Linux boxes');
  checkVersion(spec);
  const root = object(spec.root, 'root', true) as Json;
  known(root, 'root', ['path', 'readonly']);
  string(root.path, 'root.path', true);
  boolean(root.readonly, 'root.readonly');
  string(spec.hostname, 'hostname');
  string(spec.domainname, 'domainname');
  const annotations = object(spec.annotations, 'annotations') ?? {};
  for (const [key, value] of Object.entries(annotations)) string(value, `annotations.${key}`, true);
  checkProcess(spec);
  checkMounts(spec);
  checkHooks(spec);
  checkLinux(spec);
  return spec as unknown as OciSpec;
}

/** An exec's process.json (runc exec --process): the same checks as config.json's process. */
export function checkProcessSpec(raw: unknown): OciSpec['process'] {
  checkProcess({ process: raw });
  return raw as OciSpec['process'];
}
