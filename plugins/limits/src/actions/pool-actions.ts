/** `nsbox pool create|list|remove`: where box disk images live. */

import { type CommandContribution, NsboxError } from '@nsbox/core';
import type { PoolInfo, Pools } from '../disk/pools.js';
import { LimitsTokens } from '../tokens.js';
import { formatSize } from '../units.js';

function pools(input: Parameters<CommandContribution['run']>[0]): Pools {
  return input.services.get<Pools>(LimitsTokens.Pools);
}

function line(pool: PoolInfo): string {
  return `${pool.name}  ${pool.path}  ${pool.images} image(s), ${formatSize(pool.imageBytes)} used${pool.free === null ? '' : `, ${formatSize(pool.free)} free`}`;
}

export const poolCommands: CommandContribution[] = [
  {
    name: 'pool create',
    description: "create a pool for box disk images, or point an empty one elsewhere (default pool: 'default')",
    arguments: [{ name: 'name', description: "pool name (default 'default')" }],
    options: [{ flags: '--path <dir>', description: 'directory the images go in (made if missing)' }],
    run(input) {
      const path = input.options.path as string | undefined;
      if (!path) throw new NsboxError('E_INVALID_ARGUMENT', 'pool create needs --path DIR: the directory the images go in');
      return pools(input).create(input.args[0] ?? 'default', path);
    },
    render: (result) => `pool ${line(result as PoolInfo)}`,
  },
  {
    name: 'pool list',
    description: 'list pools of box disk images',
    run: (input) => pools(input).list(),
    render: (result) => (result as PoolInfo[]).map(line).join('\n'),
  },
  {
    name: 'pool remove',
    description: 'forget a pool that holds no image',
    arguments: [{ name: 'name', required: true }],
    run(input) {
      pools(input).remove(input.args[0] as string);
      return { removed: input.args[0] };
    },
    render: (result) => `removed pool ${(result as { removed: string }).removed}`,
  },
];
