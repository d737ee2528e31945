/**
 * Names of the links nsbox makes on the host side for a box: the host end of its veth and
 * the ifb of its egress shaping. Two nsbox hosts may share one host-side namespace (a
 * migration's source and target, a test host beside the real one) and hold boxes of the same
 * id (a migrated box keeps it), so a name comes from a hash of this host's own id and the
 * box id: `nsb` + 12 hex digits (15 bytes, the kernel's IFNAMSIZ less its NUL).
 */

import { createHash, randomBytes } from 'node:crypto';
import type { PluginStateStore } from '@nsbox/core';
import { STATE_NAMESPACE } from './pools.js';

const HOST_ID_KEY = 'host-id';
const HOST_LINK_PREFIX = 'nsb';
const IFB_PREFIX = 'nsi';

/**
 * This host's id, made once in its state dir (a claim, so two processes opening a new state
 * dir at once agree on one).
 */
export function hostIdOf(state: PluginStateStore): string {
  const stored = state.get(STATE_NAMESPACE, HOST_ID_KEY);
  if (stored !== undefined) return stored;
  state.claim(STATE_NAMESPACE, HOST_ID_KEY, randomBytes(8).toString('hex'));
  return state.get(STATE_NAMESPACE, HOST_ID_KEY) as string;
}

/** The host end of a box's veth on the host of id `hostId`. */
export function hostLinkName(hostId: string, boxId: string): string {
  return `${HOST_LINK_PREFIX}${createHash('sha256').update(`${hostId}:${boxId}`).digest('hex').slice(0, 12)}`;
}

/**
 * The name nsbox 0.x gave the host end (the box id alone): a box wired before an upgrade keeps
 * it until its next start, and its wired record names it.
 */
export function legacyHostLinkName(boxId: string): string {
  return `${HOST_LINK_PREFIX}${boxId.replace(/-/g, '').slice(0, 12)}`;
}

/** The ifb that carries the egress of the box whose host end is `hostLink` (old-style names give old-style ifbs). */
export function ifbName(hostLink: string): string {
  return `${IFB_PREFIX}${hostLink.slice(HOST_LINK_PREFIX.length)}`;
}

/** Whether a link name is one of nsbox's host ends. */
export const isHostLinkName = (name: string): boolean => /^nsb[0-9a-f]{12}$/.test(name);
