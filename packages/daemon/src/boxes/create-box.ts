/**
 * POST /boxes: checks everything that can be checked at once (name, owner, config, template,
 * quota), then runs the create (and the start, when asked) as an operation. The operation is
 * all or nothing: when a step fails or it is cancelled, the box is removed again.
 */

import { type Box, NsboxError, operationContext } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import type { DaemonContext } from '../context.js';
import { fieldError, prefixFields } from '../http/api-error.js';
import { cancelledError, type Operation, type StoredOperation } from '../ops/operation-manager.js';
import { scopedNameProblem, storedBoxName } from './box-names.js';
import { resolveBoxSource } from './box-source.js';
import { boxViewFor, scopedBoxView } from './tenant-config.js';

export interface CreateBoxRequest {
  name: string;
  config: Record<string, unknown>;
  owner?: string | undefined;
  start: boolean;
}

function ownerFor(context: DaemonContext, scope: Scope, requested: string | undefined): string | null {
  const tenant = scope.tenant;
  if (tenant !== null) {
    if (requested !== undefined && requested !== tenant)
      throw fieldError('E_FORBIDDEN', 'owner', `a token of tenant '${tenant}' creates boxes for '${tenant}' only`);
    return tenant;
  }
  if (requested === undefined) return null;
  if (!context.tenants.find(requested)) throw fieldError('E_INVALID_ARGUMENT', 'owner', `no tenant named '${requested}'`);
  return requested;
}

/** A create checked and reserved, not run yet: call `release` once it ran (or will not). */
export interface PreparedCreate {
  /** The stored name (a tenant's box: `<tenant>--<name>`). */
  name: string;
  owner: string | null;
  config: Record<string, unknown>;
  release(): void;
}

/**
 * Everything that can be checked at once, in order: owner, name, the tenant policy on the
 * config as the tenant wrote it, the template, then the name and the quota are reserved.
 */
export async function prepareCreate(context: DaemonContext, scope: Scope, input: Omit<CreateBoxRequest, 'start'>): Promise<PreparedCreate> {
  const owner = ownerFor(context, scope, input.owner);
  // A tenant's box names are its own (box-names.ts): the 409 can only name one of its boxes.
  const tooLong = scopedNameProblem(owner, input.name);
  if (tooLong) throw fieldError('E_INVALID_ARGUMENT', 'name', tooLong);
  const name = storedBoxName(owner, input.name);
  if (context.host.store.find(name)) {
    throw fieldError('E_ALREADY_EXISTS', 'name', `a box named '${input.name}' already exists`, { box: input.name });
  }
  const validate = async (config: unknown) => {
    try {
      return await context.manager.validateConfig(config, name);
    } catch (error) {
      throw prefixFields(error, 'config');
    }
  };
  // The tenant policy judges the config as the tenant wrote it (a template by name), before
  // anything is reserved or written.
  if (scope.tenant !== null) context.policy.check(scope.caller, await validate(input.config));
  const resolved = resolveBoxSource(input.config, context.templates, scope.tenant);
  // Inside the box, its hostname is the name its tenant gave it.
  const config = owner !== null && resolved.hostname === undefined ? { ...resolved, hostname: input.name } : resolved;
  const validated: Box['config'] = await validate(config);
  const release = context.quotas.reserve(owner, name, validated);
  return { name, owner, config, release };
}

export async function startCreateBox(context: DaemonContext, scope: Scope, input: CreateBoxRequest): Promise<Operation> {
  const prepared = await prepareCreate(context, scope, input);
  const { name, owner, config, release } = prepared;
  try {
    return context.operations.start(
      {
        kind: 'box.create',
        description: `create box ${input.name}${input.start ? ' and start it' : ''}`,
        tenant: owner,
        // Names as the owner knows them; settleCreate finds the stored one from the tenant.
        resources: { boxes: [input.name] },
        input: { name: input.name, start: input.start },
      },
      async ({ signal, progress }) => {
        // The template work reports to this operation and stops when it is cancelled.
        const operation = operationContext({ signal, onProgress: progress });
        try {
          progress({ step: 'define', message: `defining box ${name}` });
          const box = await context.api.create({ name, config, start: input.start, ...(owner !== null ? { owner } : {}) }, operation);
          progress({ step: 'done', percent: 100 });
          return scopedBoxView(context, scope, box);
        } catch (error) {
          if (signal.aborted) throw cancelledError(`creating box ${name}`);
          throw error;
        } finally {
          release();
        }
      },
    );
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * A create that a previous nsboxd left running. Its core operations were reconciled already
 * (a half-made box is gone); here the API operation is settled: a box that is fully there
 * is finished (started, if that was asked), anything else is removed.
 */
export async function settleCreate(context: DaemonContext, operation: StoredOperation): Promise<void> {
  const name = storedBoxName(operation.tenant, operation.input.name as string);
  const interrupted = {
    code: 'E_CANCELLED',
    message: `nsboxd stopped before creating box ${name} was done; what it had done was rolled back`,
    details: { interrupted: true },
  };
  const box = context.manager.list().find((candidate) => candidate.name === name && candidate.createdAt >= operation.createdAt - 1000);
  if (!box) {
    context.operations.settle(operation.id, 'failure', { error: interrupted });
    return;
  }
  try {
    let current = await context.manager.sync(box.id);
    if (current.state === 'defined') throw new NsboxError('E_INVALID_STATE', 'the box was never created');
    if (operation.input.start === true && current.state !== 'running') current = await context.manager.start(box.id);
    // The result is read by the operation's tenant: shown as that tenant knows the box.
    context.operations.settle(operation.id, 'success', { result: boxViewFor(context, operation.tenant, current) });
  } catch {
    await context.manager.destroy(box.id, { force: true }).catch(() => undefined);
    context.operations.settle(operation.id, 'failure', { error: interrupted });
  }
}
