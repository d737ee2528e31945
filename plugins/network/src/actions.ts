/** `nsbox net pool create|list|remove` (and their routes and SDK calls): the host admin's address pools. */

import { defineAction, z } from '@nsbox/core';
import type { NetworkService } from './network-service.js';

export interface PoolView {
  name: string;
  subnet: string;
  gateway: string;
  source: string;
  used: number;
}

const line = (pool: PoolView): string => `${pool.name}  ${pool.subnet}  gateway ${pool.gateway}  ${pool.used} in use  (${pool.source})`;

/** The plugin's service, as its actions reach it (bound in setup). */
export const networkServiceId = Symbol('network service');

export const poolCreateAction = defineAction({
  name: 'pool-create',
  description: 'create an address pool (IPv4 or IPv6 subnet) that bridged boxes draw from',
  input: z.strictObject({
    name: z.string().min(1).describe('pool name'),
    subnet: z.string({ error: 'pool create needs --subnet CIDR (e.g. 10.88.0.0/24 or fd88::/64)' }).min(1).describe('the subnet, CIDR'),
    gateway: z.string().min(1).optional().describe("the bridge's address in it (default: the first)"),
  }),
  role: 'admin',
  hostWide: true,
  cli: {
    command: 'net pool create',
    arguments: [{ name: 'name', required: true, description: 'pool name' }],
    options: [
      { flags: '--subnet <cidr>', description: 'the subnet (10.88.0.0/24, fd88::/64)' },
      { flags: '--gateway <address>', description: "the bridge's address in it (default: the first)" },
    ],
  },
  run: (input, { own }) => own<NetworkService>(networkServiceId).createPool(input),
  render: (pool) => `pool ${line(pool)}`,
});

export const poolListAction = defineAction({
  name: 'pool-list',
  description: 'list address pools',
  input: z.strictObject({}),
  readOnly: true,
  role: 'admin',
  hostWide: true,
  cli: { command: 'net pool list' },
  run: (_input, { own }) => own<NetworkService>(networkServiceId).listPools(),
  render: (pools) => pools.map(line).join('\n'),
});

export const poolRemoveAction = defineAction({
  name: 'pool-remove',
  description: 'forget an address pool that no box holds an address of',
  input: z.strictObject({ name: z.string().min(1) }),
  role: 'admin',
  hostWide: true,
  cli: { command: 'net pool remove', arguments: [{ name: 'name', required: true }] },
  run(input, { own }) {
    own<NetworkService>(networkServiceId).removePool(input.name);
    return { removed: input.name };
  },
  render: (result) => `removed pool ${result.removed}`,
});

export const networkActions = [poolCreateAction, poolListAction, poolRemoveAction] as const;
