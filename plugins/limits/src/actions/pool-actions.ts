/** `nsbox pool create|list|remove` (and their routes): where box disk images live — the host admin's. */

import { defineAction, z } from '@nsbox/core';
import { type PoolInfo, Pools } from '../disk/pools.js';
import { formatSize } from '../units.js';

function line(pool: PoolInfo): string {
  return `${pool.name}  ${pool.path}  ${pool.images} image(s), ${formatSize(pool.imageBytes)} used${pool.free === null ? '' : `, ${formatSize(pool.free)} free`}`;
}

export const poolCreateAction = defineAction({
  name: 'pool-create',
  description: "create a pool for box disk images, or point an empty one elsewhere (default pool: 'default')",
  input: z.strictObject({
    name: z.string().min(1).default('default').describe("pool name (default 'default')"),
    path: z.string({ error: 'pool create needs --path DIR: the directory the images go in' }).min(1).describe('directory the images go in (made if missing)'),
  }),
  role: 'admin',
  hostWide: true,
  cli: {
    command: 'pool create',
    arguments: [{ name: 'name', description: "pool name (default 'default')" }],
    options: [{ flags: '--path <dir>', description: 'directory the images go in (made if missing)' }],
  },
  run: (input, { own }) => own(Pools).create(input.name, input.path),
  render: (pool) => `pool ${line(pool)}`,
});

export const poolListAction = defineAction({
  name: 'pool-list',
  description: 'list pools of box disk images',
  input: z.strictObject({}),
  readOnly: true,
  role: 'admin',
  hostWide: true,
  cli: { command: 'pool list' },
  run: (_input, { own }) => own(Pools).list(),
  render: (pools) => pools.map(line).join('\n'),
});

export const poolRemoveAction = defineAction({
  name: 'pool-remove',
  description: 'forget a pool that holds no image',
  input: z.strictObject({ name: z.string().min(1) }),
  role: 'admin',
  hostWide: true,
  cli: { command: 'pool remove', arguments: [{ name: 'name', required: true }] },
  run(input, { own }) {
    own(Pools).remove(input.name);
    return { removed: input.name };
  },
  render: (result) => `removed pool ${result.removed}`,
});
