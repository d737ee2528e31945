/**
 * Typed wrappers of the addon's netlink calls (PROTOCOL.md §4, netlink): links, addresses,
 * routes and net.* sysctls in any network namespace, through rtnetlink (libmnl) — no `ip`
 * spawned per step. A namespace is named by a path (`/proc/PID/ns/net`, `/run/netns/NAME`);
 * `undefined` is the caller's own. The C side opens its netlink socket in that namespace on a
 * short-lived helper thread (setns there, never in Node's main thread).
 */

import { native } from './index.js';

/** One step of a batch, run in order on one socket; the first failure stops the batch. */
export type NetlinkOp =
  /** `address`, `peerAddress`: a MAC (`02:…`); without one the kernel picks a random MAC. */
  | { op: 'bridge-add'; name: string; address?: string }
  | { op: 'veth-add'; name: string; peer: string; peerNetns?: string; peerAddress?: string; master?: string; up?: boolean }
  | { op: 'link-netns'; name: string; netns: string }
  | { op: 'link-up'; name: string }
  | { op: 'link-down'; name: string }
  | { op: 'link-master'; name: string; master: string }
  | { op: 'link-rename'; name: string; newName: string }
  | { op: 'link-del'; name: string }
  | { op: 'addr-add'; dev: string; address: string; prefix: number }
  | { op: 'route-add' | 'route-del'; dst?: string; prefix?: number; gateway?: string; dev?: string; onlink?: boolean }
  /** Traffic control (src/netlink-tc.c): an ifb link; a token bucket as `dev`'s root qdisc (made or replaced in place). */
  | { op: 'ifb-add'; name: string }
  | { op: 'qdisc-tbf'; dev: string; bytesPerSecond: number; burst: number; limit: number }
  | { op: 'qdisc-ingress'; dev: string }
  | { op: 'qdisc-del'; dev: string; parent: 'root' | 'ingress' }
  /** Every packet `dev` receives goes to `target`'s egress (u32 match-all, mirred redirect, on `dev`'s ingress qdisc). */
  | { op: 'filter-redirect'; dev: string; target: string };

export interface NetLink {
  index: number;
  name: string;
  /** `bridge`, `veth`, ... ('' for a plain device such as lo). */
  kind: string;
  /** The MAC address (`aa:bb:cc:dd:ee:ff`); '' for a link without a 6-byte one. */
  address: string;
  /** Index of the bridge it is attached to (0: none). */
  master: number;
  up: boolean;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

/** A failed step: `code` is the errno name, `step` the index of the op in its batch. */
export interface NetlinkError extends Error {
  code: string;
  errno: number;
  step?: number;
}

function encode(step: NetlinkOp): string[] {
  switch (step.op) {
    case 'bridge-add':
      return [step.op, step.name, step.address ?? ''];
    case 'link-up':
    case 'link-down':
    case 'link-del':
      return [step.op, step.name];
    case 'veth-add':
      return [step.op, step.name, step.peer, step.peerNetns ?? '', step.peerAddress ?? '', step.master ?? '', step.up ? '1' : ''];
    case 'link-netns':
      return [step.op, step.name, step.netns];
    case 'link-master':
      return [step.op, step.name, step.master];
    case 'link-rename':
      return [step.op, step.name, step.newName];
    case 'addr-add':
      return [step.op, step.dev, step.address, String(step.prefix)];
    case 'route-add':
    case 'route-del':
      return [step.op, step.dst ?? '', String(step.prefix ?? 0), step.gateway ?? '', step.dev ?? '', step.onlink ? '1' : ''];
    case 'ifb-add':
      return [step.op, step.name];
    case 'qdisc-tbf':
      return [step.op, step.dev, String(Math.round(step.bytesPerSecond)), String(Math.round(step.burst)), String(Math.round(step.limit))];
    case 'qdisc-ingress':
      return [step.op, step.dev];
    case 'qdisc-del':
      return [step.op, step.dev, step.parent];
    case 'filter-redirect':
      return [step.op, step.dev, step.target];
  }
}

/** Runs the steps in order in `netns` (undefined: this process's own). */
export function netlink(netns: string | undefined, steps: readonly NetlinkOp[]): void {
  if (steps.length > 0) native().netlink(netns ?? '', steps.map(encode));
}

/** Every link of the namespace, with its counters. */
export function listLinks(netns?: string): NetLink[] {
  return native().netlink(netns ?? '', [['link-list']])[0] as NetLink[];
}

/** Writes a net.* sysctl as the namespace sees it (`net.ipv4.ip_forward`, `1`). */
export function setNetSysctl(netns: string | undefined, key: string, value: string): void {
  native().netlinkSysctl(netns ?? '', key, value);
}

/** True for the errno name of an error thrown by these calls. */
export function isNetlinkError(error: unknown, code?: string): error is NetlinkError {
  return error instanceof Error && typeof (error as NetlinkError).errno === 'number' && (code === undefined || (error as NetlinkError).code === code);
}
