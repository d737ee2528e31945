/** The admin's `settings.network` in host.json. */

import { z } from '@nsbox/core';

export const linkName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/, 'a link name: 1 to 15 letters, digits, _ . - (not starting with one of _ . -)');

export const poolSettingsSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a pool name: lower-case letters, digits, _ and -, at most 32'),
  subnet: z.string().min(1),
  gateway: z.string().min(1).optional(),
  /** The tenant whose boxes draw from it (absent: shared, for boxes without a pool of their tenant's). */
  tenant: z.string().min(1).optional(),
});

export const networkSettingsSchema = z.strictObject({
  /**
   * The network namespace nsbox's host side lives in (bridge, host ends of veths, NAT), as a
   * path (`/run/netns/NAME`); absent: the host's own. Tests run a whole host network in a
   * namespace of their own this way.
   */
  netns: z.string().startsWith('/', 'an absolute path such as /run/netns/NAME').optional(),
  /** The bridge boxes in `bridge` mode are attached to (made by nsbox when missing). */
  bridge: linkName.default('nsbox0'),
  /** The mode of a box whose config does not say: `none` until the admin opts in. */
  defaultMode: z.enum(['bridge', 'routed', 'none']).default('none'),
  /** Address pools (more are made with `nsbox net pool create`). */
  pools: z.array(poolSettingsSchema).default([]),
  /** Name servers written to each box's /etc/resolv.conf (default: the host's own, loopback left out). */
  nameservers: z.array(z.string()).optional(),
  /** Masquerade box traffic leaving the bridge's pools (nftables, table `inet nsbox`). */
  nat: z.boolean().default(true),
});

export type NetworkSettings = z.infer<typeof networkSettingsSchema>;
export type PoolSettings = z.infer<typeof poolSettingsSchema>;
