/**
 * The BoxManager a plugin's route gets when a tenant's token called it: the same one, with
 * the tenant's scope and policy in front. A route handler that creates, changes, starts or
 * restarts a box through it is judged as POST/PATCH /boxes are — a create checks the same
 * owner, name, policy, template and quota, and holds its quota reservation while it runs —
 * and reaches only the tenant's boxes; a host-wide token's call gets the plain manager.
 */

import type { Box, BoxManager, CreateBoxInput } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { prepareCreate } from '../boxes/create-box.js';
import { judgeChange } from '../boxes/scoped-box-api.js';
import { checkStoredConfig } from '../boxes/tenant-config.js';
import type { DaemonContext } from '../context.js';

/** Methods whose first argument is a box by id or name: they see only the tenant's boxes. */
const boxMethods = new Set(['get', 'sync', 'stop', 'kill', 'pause', 'resume', 'destroy', 'history']);

export function tenantBoxManager(context: DaemonContext, scope: Scope): BoxManager {
  const manager = context.manager;
  const tenant = scope.tenant;
  if (tenant === null) return manager;
  const guarded: Partial<Record<keyof BoxManager, unknown>> = {
    list: (filter?: Parameters<BoxManager['list']>[0]) => manager.list({ ...(filter ?? {}), owner: tenant }),
    async create(input: CreateBoxInput): Promise<Box> {
      // A host box (owner null) is another owner than the tenant: prepareCreate refuses it.
      const owner = input.owner === null ? '' : input.owner;
      const prepared = await prepareCreate(context, scope, { name: input.name, config: input.config as Record<string, unknown>, owner });
      try {
        return await manager.create({ name: prepared.name, config: prepared.config, owner: tenant });
      } finally {
        prepared.release();
      }
    },
    async update(idOrName: string, changes: Record<string, unknown>): Promise<Box> {
      const box = scope.box(idOrName);
      await judgeChange(context, scope, box, changes);
      return manager.update(box.id, changes);
    },
    async start(idOrName: string): Promise<Box> {
      const box = scope.box(idOrName);
      checkStoredConfig(context, scope, box);
      return manager.start(box.id);
    },
    async restart(idOrName: string, options?: { timeoutMs?: number }): Promise<Box> {
      const box = scope.box(idOrName);
      checkStoredConfig(context, scope, box);
      return manager.restart(box.id, options);
    },
  };
  return new Proxy(manager, {
    get(target, property, receiver) {
      if (typeof property === 'string' && property in guarded) return guarded[property as keyof BoxManager];
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && boxMethods.has(property)) {
        return (idOrName: string, ...rest: unknown[]) => (value as (...args: unknown[]) => unknown).call(target, scope.box(idOrName).id, ...rest);
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}
