/**
 * The BoxManager a plugin's route gets when a tenant's token called it: the same one, with
 * the tenant's scope and policy in front. A route handler that creates, changes, starts or
 * restarts a box through it is judged as POST/PATCH /boxes are, and reaches only the tenant's
 * boxes; a host-wide token's call gets the plain manager.
 */

import { type Box, type BoxManager, type CreateBoxInput, NsboxError } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { storedBoxName } from '../boxes/box-names.js';
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
      if (input.owner !== undefined && input.owner !== tenant) {
        throw new NsboxError('E_FORBIDDEN', `a token of tenant '${tenant}' creates boxes for '${tenant}' only`, { details: { field: 'owner' } });
      }
      context.policy.check(scope.caller, await manager.validateConfig(input.config, input.name));
      return manager.create({ ...input, name: storedBoxName(tenant, input.name), owner: tenant });
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
