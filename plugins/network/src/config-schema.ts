/** A box's `network` section. */

import { z } from '@nsbox/core';
import { parseRate, rateMessage } from './shaping.js';

const rate = z.string().refine((text) => parseRate(text) !== undefined, rateMessage);

export const networkModes = ['bridge', 'routed', 'none', 'host', 'shared'] as const;
/** The modes with a veth of nsbox's (addresses, rules, shaping). */
export const wiredModes: readonly NetworkMode[] = ['bridge', 'routed'];
export type NetworkMode = (typeof networkModes)[number];

export const networkConfigSchema = z.strictObject({
  /**
   * `bridge`: a veth on the host's bridge with NAT; `routed`: a veth with host routes to the
   * box's /32 and /128 and no L2 between boxes; `none`: an empty namespace (lo only); `host`:
   * the host's own network stack (admin only; with isolation.namespaces.network 'host');
   * `shared`: the host's stack too, the box confined to its addresses (`ip`: VServer's chbind;
   * admin only, with isolation.namespaces.network 'host'). Default: the host's `defaultMode`.
   */
  mode: z.enum(networkModes).optional(),
  /**
   * Static addresses (`ADDR` or `ADDR/PREFIX`), each inside a pool; without them, the next free
   * one of every pool. Mode `shared`: the host's addresses the box is confined to (`ADDR`).
   */
  ip: z.array(z.string().min(1)).max(16).optional(),
  /** What the box may send, as tc spells a rate (`10mbit`); changed live on a running box. */
  rate: rate.optional(),
  /** What the box may receive (`20mbit`); changed live. */
  ingressRate: rate.optional(),
});

export type NetworkConfig = z.infer<typeof networkConfigSchema>;
