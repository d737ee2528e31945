/**
 * The device allowlist: which device numbers a box may open (and mknod). Written as OCI
 * `linux.resources.devices` rules: the runtime compiles them into a BPF_CGROUP_DEVICE
 * program on the box's cgroup2 directory, and the plugin writes them to the v1 devices
 * controller where the host has one (on a hybrid host both apply).
 */

import { type BigIntStats, statSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import type { DeviceConfig } from './config-schema.js';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  /** undefined: any */
  major?: number;
  minor?: number;
  access: string;
}

/** A host device node the box gets (bound into /dev: a user namespace cannot mknod). */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
}

const char = (major: number, minor?: number): DeviceRule => ({ allow: true, type: 'c', major, ...(minor === undefined ? {} : { minor }), access: 'rwm' });

/** Deny everything, then allow mknod of any node (useless without the right to open it) and the usual character devices. */
export const defaultDeviceRules: readonly DeviceRule[] = [
  { allow: false, type: 'a', access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  char(1, 3), // null
  char(1, 5), // zero
  char(1, 7), // full
  char(1, 8), // random
  char(1, 9), // urandom
  char(5, 0), // tty
  // Not 5:1: that number is the host's system console wherever the node lies; the box's
  // /dev/console is a pty of its own (136:*).
  char(5, 2), // ptmx
  char(136), // pts/*
];

/** glibc's dev_t encoding (gnu_dev_major/minor), on the 64-bit value. */
function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

/** The host's node at `path` (E_INVALID_CONFIG naming `field` when it is not a device). */
export function hostDevice(path: string, field: string): DeviceNode {
  let stat: BigIntStats;
  try {
    stat = statSync(path, { bigint: true });
  } catch (error) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: host device '${path}' does not exist`, {
      details: { field, issues: [{ path: field, message: `host device '${path}' does not exist` }] },
      cause: error,
    });
  }
  if (!stat.isCharacterDevice() && !stat.isBlockDevice()) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: '${path}' is not a device node`, {
      details: { field, issues: [{ path: field, message: `'${path}' is not a device node` }] },
    });
  }
  return { path, type: stat.isCharacterDevice() ? 'c' : 'b', major: major(stat.rdev), minor: minor(stat.rdev) };
}

/** The box's rules and the nodes to bind into its /dev, from the defaults and its config. */
export function deviceAllowlist(extra: readonly DeviceConfig[]): { rules: DeviceRule[]; nodes: DeviceNode[] } {
  const rules = [...defaultDeviceRules];
  const nodes: DeviceNode[] = [];
  extra.forEach((entry, index) => {
    if ('path' in entry) {
      const node = hostDevice(entry.path, `isolation.devices[${index}].path`);
      nodes.push(node);
      rules.push({ allow: true, type: node.type, major: node.major, minor: node.minor, access: entry.access });
    } else {
      rules.push({
        allow: true,
        type: entry.type,
        ...(entry.major === '*' ? {} : { major: entry.major }),
        ...(entry.minor === '*' ? {} : { minor: entry.minor }),
        access: entry.access,
      });
    }
  });
  return { rules, nodes };
}

/** A rule as the v1 devices controller reads it: `c 1:3 rwm`, `a *:* rwm`. */
export function v1RuleText(rule: DeviceRule): string {
  const number = (value: number | undefined) => (value === undefined ? '*' : String(value));
  return `${rule.type} ${number(rule.major)}:${number(rule.minor)} ${rule.access}`;
}
