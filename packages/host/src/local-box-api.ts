/**
 * The BoxApi in-process, over a host's BoxManager (podman's `abi`): what the CLI uses in local
 * mode, and what nsboxd wraps with a token's tenant scope, policy and quotas. It answers as
 * the HTTP API does for the host admin, so a face prints the same whichever way it went.
 */

import {
  type ActionInfo,
  type Box,
  type BoxApi,
  type BoxConfig,
  type BoxEvent,
  type BoxListQuery,
  type CreateBoxRequest,
  type ExecOutput,
  type ExecRequest,
  type FollowLogsOptions,
  type HistoryFilter,
  NsboxError,
  type OperationContext,
  operationContext,
  type PluginInfo,
  runtimeWithoutSpec,
  type SetResult,
  throwIfCancelled,
} from '@nsbox/core';
import { actionInfos, findAction, invokeAction } from './actions.js';
import { boxDetails } from './box-details.js';
import type { BoxIo } from './box-io.js';
import type { NsboxHost } from './open-host.js';
import { setBox } from './set-box.js';
import { signalNumber } from './signals.js';

const DEFAULT_STOP_SECONDS = 10;

/** A box as lists show it: without its (large) OCI spec. */
export function listedBox(box: Box): Box {
  return { ...box, runtime: runtimeWithoutSpec(box.runtime) };
}

function timeoutMs(options: { timeout?: number } | undefined): number {
  const seconds = options?.timeout;
  return seconds === undefined || !Number.isFinite(seconds) ? DEFAULT_STOP_SECONDS * 1000 : seconds * 1000;
}

function isLive(box: Box): boolean {
  return box.state === 'running' || box.state === 'paused';
}

export class LocalBoxApi implements BoxApi {
  constructor(
    readonly host: NsboxHost,
    private readonly boxIo?: BoxIo,
  ) {}

  private get manager() {
    return this.host.manager;
  }

  private io(): BoxIo {
    if (!this.boxIo) throw new NsboxError('E_UNSUPPORTED', 'this host has no box driver that runs commands or keeps console logs');
    return this.boxIo;
  }

  async list(filter: BoxListQuery = {}): Promise<Box[]> {
    const listed: Box[] = [];
    for (const box of this.manager.list(filter.owner !== undefined ? { owner: filter.owner } : {})) {
      if (filter.template && box.config.template !== filter.template) continue;
      if (filter.name && !box.name.startsWith(filter.name)) continue;
      // A box whose init exited on its own is shown stopped, as it is (the box just read is
      // checked, not read again).
      const current = isLive(box) && filter.sync !== false ? await this.manager.sync(box).catch(() => box) : box;
      if (!filter.state || current.state === filter.state) listed.push(listedBox(current));
    }
    return listed;
  }

  async get(idOrName: string): Promise<Box> {
    const box = await this.manager.sync(idOrName);
    const lastExit = this.boxIo?.lastExit(box);
    return lastExit === undefined ? box : { ...box, runtime: { ...box.runtime, lastExit } };
  }

  /** Create, and start when asked; a start that fails (or is cancelled) removes the box again. */
  async create(input: CreateBoxRequest, ctx: OperationContext = operationContext()): Promise<Box> {
    let box = await this.manager.create({ name: input.name, owner: input.owner ?? null, config: input.config }, ctx);
    try {
      throwIfCancelled(ctx);
      if (input.start) {
        ctx.progress({ step: 'start', message: `starting box ${box.name}` });
        box = await this.manager.start(box.id, ctx);
      }
    } catch (error) {
      await this.manager.destroy(box.id, { force: true }).catch(() => undefined);
      throw error;
    }
    return listedBox(box);
  }

  async start(idOrName: string, ctx?: OperationContext): Promise<Box> {
    return listedBox(await this.manager.start(idOrName, ctx));
  }

  async stop(idOrName: string, options?: { timeout?: number }, ctx?: OperationContext): Promise<Box> {
    return listedBox(await this.manager.stop(idOrName, { timeoutMs: timeoutMs(options) }, ctx));
  }

  async restart(idOrName: string, options?: { timeout?: number }, ctx?: OperationContext): Promise<Box> {
    return listedBox(await this.manager.restart(idOrName, { timeoutMs: timeoutMs(options) }, ctx));
  }

  async kill(idOrName: string, signal?: string | number): Promise<{ name: string; signal: number }> {
    const number = signalNumber(signal);
    const box = this.manager.get(idOrName);
    await this.manager.kill(box.id, number);
    return { name: box.name, signal: number };
  }

  async pause(idOrName: string): Promise<Box> {
    return listedBox(await this.manager.pause(idOrName));
  }

  async resume(idOrName: string): Promise<Box> {
    return listedBox(await this.manager.resume(idOrName));
  }

  async update(idOrName: string, config: Record<string, unknown>, ctx?: OperationContext): Promise<Box> {
    return listedBox(await this.manager.update(idOrName, config, ctx));
  }

  async set(idOrName: string, options: Record<string, unknown>): Promise<SetResult> {
    const box = await this.manager.sync(idOrName);
    return setBox(this.host.plugins, { api: this, stored: (id) => this.manager.get(id) }, box, options);
  }

  async destroy(idOrName: string, options: { force?: boolean } = {}, ctx?: OperationContext): Promise<{ name: string; destroyed: boolean }> {
    const box = this.manager.get(idOrName);
    await this.manager.destroy(box.id, { force: Boolean(options.force) }, ctx);
    return { name: box.name, destroyed: true };
  }

  async logs(idOrName: string): Promise<string> {
    return this.io().logs(await this.manager.sync(idOrName));
  }

  async *followLogs(idOrName: string, options: FollowLogsOptions = {}): AsyncGenerator<Uint8Array> {
    const box = await this.manager.sync(idOrName);
    yield* this.io().followLogs(box, options);
    // The log ended because the init did: record that before the stream ends, so that a caller
    // who asks for the box next sees it stopped (the resident watcher may not have got to it yet).
    if (box.state === 'running' && !options.signal?.aborted) await this.manager.sync(box.id);
  }

  async exec(idOrName: string, request: ExecRequest): Promise<ExecOutput> {
    return this.io().exec(await this.manager.sync(idOrName), request);
  }

  async details(idOrName: string): Promise<Record<string, unknown>> {
    return boxDetails(this.host.plugins, await this.manager.sync(idOrName));
  }

  async history(idOrName: string, filter: HistoryFilter = {}): Promise<BoxEvent[]> {
    const box = this.manager.get(idOrName);
    const events = this.manager.history({
      boxId: box.id,
      ...(filter.kind ? { kind: filter.kind } : {}),
      ...(filter.since !== undefined ? { since: filter.since } : {}),
      ...(filter.until !== undefined ? { until: filter.until } : {}),
      ...(filter.after !== undefined ? { afterId: filter.after } : {}),
      limit: filter.last !== undefined ? 1_000_000 : (filter.limit ?? 1000),
    });
    return filter.last !== undefined ? events.slice(-filter.last) : events;
  }

  async plugins(): Promise<PluginInfo[]> {
    return this.host.plugins.describe();
  }

  async validateConfig(config: Record<string, unknown>, name = 'config'): Promise<{ valid: true; config: BoxConfig }> {
    return { valid: true, config: await this.manager.validateConfig(config, name) };
  }

  async actions(): Promise<ActionInfo[]> {
    return actionInfos(this.host.plugins);
  }

  /** The host admin's call: every box is in reach. */
  async runAction(plugin: string, action: string, input?: unknown, ctx?: OperationContext): Promise<unknown> {
    return invokeAction(findAction(this.host.plugins, plugin, action), input, {
      api: this,
      tenant: null,
      box: (idOrName) => this.manager.sync(idOrName),
      services: this.host.plugins,
      ...(ctx ? { operation: ctx } : {}),
    });
  }
}
