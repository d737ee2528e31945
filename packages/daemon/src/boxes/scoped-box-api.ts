/**
 * The BoxApi as one caller of nsboxd may use it: the host's LocalBoxApi behind the token's
 * tenant scope (a tenant reaches only its boxes; another's is missing, 404), its policy
 * (what it may put in a config, judged at create, change, start and restart), its quotas,
 * and its view of boxes (its names, no host paths). Every route that acts on boxes, and every
 * plugin action run through the API, goes through here, so the same rule holds for both.
 */

import {
  type ActionInfo,
  type Box,
  type BoxApi,
  type BoxConfig,
  type BoxEvent,
  type BoxListQuery,
  CoreTokens,
  type CreateBoxRequest,
  describeAction,
  type ExecOutput,
  type ExecRequest,
  type FollowLogsOptions,
  type HistoryFilter,
  NsboxError,
  type OperationContext,
  type PluginInfo,
  type ServiceSource,
  type SetResult,
} from '@nsbox/core';
import { findAction, invokeAction, setBox } from '@nsbox/host';
import type { Scope } from '../auth/scope.js';
import type { DaemonContext } from '../context.js';
import { prefixFields } from '../http/api-error.js';
import { tenantBoxManager } from '../tenancy/tenant-box-manager.js';
import { shownBoxName } from './box-names.js';
import { prepareCreate } from './create-box.js';
import { checkStoredConfig, configAsTenantSees, scopedBoxView } from './tenant-config.js';

/**
 * A config change of `box` by this caller: the merged config is validated (fields named from
 * `config`), judged by the tenant policy (only what it changes; a start judges the whole
 * config again), and must fit the owner's quotas. The plugins then check it as they check any
 * change (limits: what the host and the box can take). Returns the validated config.
 */
export async function judgeChange(context: DaemonContext, scope: Scope, box: Box, changes: Record<string, unknown>): Promise<BoxConfig> {
  const merged: Record<string, unknown> = { ...box.config };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  let next: BoxConfig;
  try {
    next = await context.manager.validateConfig(merged, box.name);
  } catch (error) {
    throw prefixFields(error, 'config');
  }
  if (scope.tenant !== null) {
    const asTenantSees = (config: BoxConfig) => configAsTenantSees(config, context.templates);
    context.policy.check(scope.caller, asTenantSees(next), { previous: asTenantSees(box.config) });
  }
  context.quotas.checkUpdate(box, next);
  return next;
}

export class ScopedBoxApi implements BoxApi {
  constructor(
    private readonly context: DaemonContext,
    readonly scope: Scope,
  ) {}

  private get local() {
    return this.context.api;
  }

  private view(box: Box, options: { spec?: boolean } = {}): Box {
    return scopedBoxView(this.context, this.scope, box, options);
  }

  async list(filter: BoxListQuery = {}): Promise<Box[]> {
    const owner = this.scope.ownerFilter(filter.owner);
    const { owner: _owner, ...rest } = filter;
    const boxes = await this.local.list({
      ...rest,
      ...(owner !== undefined ? { owner } : {}),
      ...(filter.name ? { name: this.scope.storedName(filter.name) } : {}),
    });
    return boxes.map((box) => this.view(box));
  }

  async get(idOrName: string): Promise<Box> {
    return this.view(await this.local.get(this.scope.box(idOrName).id), { spec: true });
  }

  /** Checked and reserved as POST /boxes is, then run at once (an action's create). */
  async create(input: CreateBoxRequest, ctx?: OperationContext): Promise<Box> {
    const { start, ...request } = input;
    const prepared = await prepareCreate(this.context, this.scope, request);
    try {
      const box = await this.local.create(
        { name: prepared.name, config: prepared.config, start: Boolean(start), ...(prepared.owner !== null ? { owner: prepared.owner } : {}) },
        ctx,
      );
      return this.view(box);
    } finally {
      prepared.release();
    }
  }

  async start(idOrName: string, ctx?: OperationContext): Promise<Box> {
    const box = this.scope.box(idOrName);
    // A start applies the whole stored config: it must pass the tenant's policy as it is now.
    checkStoredConfig(this.context, this.scope, box);
    return this.view(await this.local.start(box.id, ctx));
  }

  async stop(idOrName: string, options?: { timeout?: number }, ctx?: OperationContext): Promise<Box> {
    return this.view(await this.local.stop(this.scope.box(idOrName).id, options, ctx));
  }

  async restart(idOrName: string, options?: { timeout?: number }, ctx?: OperationContext): Promise<Box> {
    const box = this.scope.box(idOrName);
    // Refused before the stop: a box the policy would not start again keeps running as it is.
    checkStoredConfig(this.context, this.scope, box);
    return this.view(await this.local.restart(box.id, options, ctx));
  }

  async kill(idOrName: string, signal?: string | number): Promise<{ name: string; signal: number }> {
    const box = this.scope.box(idOrName);
    const killed = await this.local.kill(box.id, signal);
    return { name: shownBoxName(this.scope.tenant, box.name), signal: killed.signal };
  }

  async pause(idOrName: string): Promise<Box> {
    return this.view(await this.local.pause(this.scope.box(idOrName).id));
  }

  async resume(idOrName: string): Promise<Box> {
    return this.view(await this.local.resume(this.scope.box(idOrName).id));
  }

  /** A config change, judged by judgeChange first. */
  async update(idOrName: string, config: Record<string, unknown>, ctx?: OperationContext): Promise<Box> {
    const box = this.scope.box(idOrName);
    await judgeChange(this.context, this.scope, box, config);
    return this.view(await this.local.update(box.id, config, ctx));
  }

  /** The plugins' set options: one change judged as this caller's own (update), then their live steps. */
  async set(idOrName: string, options: Record<string, unknown>): Promise<SetResult> {
    const box = await this.scope.syncedBox(idOrName);
    return setBox(this.context.host.plugins, { api: this, stored: (id) => this.context.manager.get(id) }, box, options);
  }

  async destroy(idOrName: string, options: { force?: boolean } = {}, ctx?: OperationContext): Promise<{ name: string; destroyed: boolean }> {
    const box = this.scope.box(idOrName);
    await this.local.destroy(box.id, options, ctx);
    return { name: shownBoxName(this.scope.tenant, box.name), destroyed: true };
  }

  async logs(idOrName: string): Promise<string> {
    return this.local.logs(this.scope.box(idOrName).id);
  }

  async *followLogs(idOrName: string, options: FollowLogsOptions = {}): AsyncGenerator<Uint8Array> {
    yield* this.local.followLogs(this.scope.box(idOrName).id, options);
  }

  async exec(idOrName: string, request: ExecRequest): Promise<ExecOutput> {
    return this.local.exec(this.scope.box(idOrName).id, request);
  }

  async details(idOrName: string): Promise<Record<string, unknown>> {
    return this.local.details(this.scope.box(idOrName).id);
  }

  async history(idOrName: string, filter?: HistoryFilter): Promise<BoxEvent[]> {
    return this.local.history(this.scope.box(idOrName).id, filter);
  }

  plugins(): Promise<PluginInfo[]> {
    return this.local.plugins();
  }

  async validateConfig(config: Record<string, unknown>, name?: string): Promise<{ valid: true; config: BoxConfig }> {
    try {
      return await this.local.validateConfig(config, name);
    } catch (error) {
      throw prefixFields(error, 'config');
    }
  }

  /** Every action, each saying who may run it (`role`, `hostWide`): a refusal names the rule. */
  actions(): Promise<ActionInfo[]> {
    return this.local.actions();
  }

  /**
   * A plugin's action for this caller: its role and host-wide rule, its box found within the
   * caller's scope, and every change it makes through `api` judged as this caller's own.
   */
  async runAction(plugin: string, action: string, input?: unknown, ctx?: OperationContext): Promise<unknown> {
    const found = findAction(this.context.host.plugins, plugin, action);
    const info = describeAction(plugin, found.action);
    if (info.hostWide && this.scope.tenant !== null) {
      throw new NsboxError('E_FORBIDDEN', `action ${plugin} ${action} needs a host-wide token (one that belongs to no tenant)`, {
        details: { tenant: this.scope.tenant },
      });
    }
    if (!this.scope.atLeast(info.role)) {
      throw new NsboxError('E_FORBIDDEN', `action ${plugin} ${action} needs the ${info.role} role; the token has ${this.scope.caller?.role}`, {
        details: { needed: info.role, role: this.scope.caller?.role },
      });
    }
    return invokeAction(found, input, {
      api: this,
      tenant: this.scope.tenant,
      box: (idOrName) => this.scope.syncedBox(idOrName),
      services: this.services(),
      ...(ctx ? { operation: ctx } : {}),
    });
  }

  /** The plugins' services, with the BoxManager in front of which this caller's scope stands. */
  private services(): ServiceSource {
    const plugins = this.context.host.plugins;
    if (this.scope.tenant === null) return plugins;
    const manager = tenantBoxManager(this.context, this.scope);
    return {
      get: (ref) => ((ref as unknown) === CoreTokens.BoxManager ? manager : plugins.get(ref)) as never,
      getOptional: (ref) => plugins.getOptional(ref),
      contributions: (point) => plugins.contributions(point),
    };
  }
}
