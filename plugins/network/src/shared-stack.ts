/**
 * Mode `shared`: VServer's chbind on the host's own network stack. The box has no network
 * namespace of its own; it may bind, connect and send from its addresses only (`network.ip`,
 * plain addresses the host holds), through cgroup BPF programs the launcher attaches to the
 * box's cgroup2 directory before its first process runs (the `ipConfinement` launch
 * contribution, `native/src/launcher-bpf.c`):
 *
 * - bind: the wildcard becomes the box's first address; another address fails with EPERM;
 * - connect: the socket is bound to the box's first address of the family first;
 * - sendmsg (UDP): an unset source becomes the box's first address; another one is EPERM.
 *
 * Raw IP, ping and packet sockets pass none of those hooks (they run for TCP and UDP), so a
 * confined box may not create them: its seccomp filter's socket rules are tightened here, and
 * CAP_NET_RAW leaves its capability sets. Both are edits of what the isolation plugin wrote,
 * made at `prepare`, after every plugin's `spec` hook, so that whatever order the plugins run
 * in, nothing rewrites them after.
 */

import { isIP } from 'node:net';
import { NsboxError, type OciSeccompRule, type OciSpec } from '@nsbox/core';
import { allowWhere, type CgroupDriver, contributeLaunch, exactly, masked, maskedComplement } from '@nsbox/runtime-api';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_PACKET = 17;
const AF_VSOCK = 40;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_SEQPACKET = 5;
/** socket(2)'s type carries SOCK_NONBLOCK and SOCK_CLOEXEC above these bits. */
const SOCK_TYPE_MASK = 0xf;
const IPPROTO_UDP = 17;
const IPPROTO_UDPLITE = 136;
const ENOSYS = 38;

const invalid = (field: string, message: string) => new NsboxError('E_INVALID_CONFIG', `${field}: ${message}`, { details: { field } });

/** The box's addresses on the host's stack, checked: plain IPv4 or IPv6 addresses (no prefix: they are the host's). */
export function sharedAddresses(ip: readonly string[] | undefined): string[] {
  return (ip ?? []).map((text, index) => {
    const address = text.trim();
    if (isIP(address) === 0) throw invalid(`network.ip[${index}]`, `'${text}' is not an IP address (mode 'shared' takes addresses of the host, no prefix)`);
    return address;
  });
}

/** Refused where the launcher could not attach the programs (cgroup BPF needs a cgroup2 directory). */
export function checkSharedHost(cgroups: CgroupDriver | undefined): void {
  if (cgroups && !cgroups.layout.unified) {
    throw new NsboxError('E_UNSUPPORTED', "network.mode: 'shared' confines with cgroup BPF, which needs a cgroup2 hierarchy, and this host mounts none", {
      details: { field: 'network.mode' },
    });
  }
}

/**
 * socket(2) for a confined box: every family but inet, inet6, packet and vsock; inet and inet6
 * for TCP (stream), SCTP-like seqpacket and UDP only — no raw IP, no ICMP datagram (ping).
 */
export function confinedSocketRules(): OciSeccompRule[] {
  const rules = maskedComplement([AF_INET, AF_INET6, AF_PACKET, AF_VSOCK]).map((family) => allowWhere('socket', masked(0, family)));
  for (const family of [AF_INET, AF_INET6]) {
    for (const type of [SOCK_STREAM, SOCK_SEQPACKET])
      rules.push(allowWhere('socket', masked(0, exactly(family)), masked(1, { mask: SOCK_TYPE_MASK, value: type })));
    // A datagram socket of the default protocol (0) or UDP is UDP; ICMP (ping) is the one left out.
    for (const protocol of [0, IPPROTO_UDP, IPPROTO_UDPLITE]) {
      rules.push(allowWhere('socket', masked(0, exactly(family)), masked(1, { mask: SOCK_TYPE_MASK, value: SOCK_DGRAM }), masked(2, exactly(protocol))));
    }
  }
  return rules;
}

/**
 * The filter's socket allowances replaced by the confined ones (a filter that allowed no
 * socket keeps allowing none), and i386's socketcall(2), which hides socket's arguments in
 * memory, answered ENOSYS (libc then uses socket(2), there since kernel 4.3).
 */
export function confineSockets(seccomp: NonNullable<OciSpec['linux']['seccomp']>): void {
  let sockets = false;
  const syscalls: OciSeccompRule[] = [];
  for (const rule of seccomp.syscalls ?? []) {
    if (rule.action !== 'SCMP_ACT_ALLOW' || !rule.names.some((name) => name === 'socket' || name === 'socketcall')) {
      syscalls.push(rule);
      continue;
    }
    sockets ||= rule.names.includes('socket');
    const names = rule.names.filter((name) => name !== 'socket' && name !== 'socketcall');
    if (names.length > 0) syscalls.push({ ...rule, names });
  }
  if (sockets) syscalls.push(...confinedSocketRules());
  syscalls.push({ names: ['socketcall'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  seccomp.syscalls = syscalls;
}

/**
 * The box's spec confined to `addresses` on the host's stack. Refused, naming `network.mode`,
 * for a box with a network namespace of its own (isolation owns the namespaces: the box says
 * `isolation.namespaces.network: 'host'`) or without an allowlist filter to tighten.
 */
export function confineToAddresses(spec: OciSpec, addresses: readonly string[]): void {
  if (spec.linux.namespaces.some((namespace) => namespace.type === 'network')) {
    throw invalid('network.mode', "'shared' confines a box on the host's network stack: set isolation.namespaces.network to 'host' as well");
  }
  const seccomp = spec.linux.seccomp;
  if (!seccomp || seccomp.defaultAction === 'SCMP_ACT_ALLOW') {
    throw invalid('network.mode', "'shared' needs a seccomp allowlist (isolation's default profile): raw, ping and packet sockets pass no confinement hook");
  }
  confineSockets(seccomp);
  const capabilities = spec.process.capabilities;
  if (capabilities) {
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
      const list = capabilities[set];
      if (list) capabilities[set] = list.filter((cap) => cap !== 'CAP_NET_RAW');
    }
  }
  contributeLaunch(spec, { ipConfinement: [...addresses] });
}
