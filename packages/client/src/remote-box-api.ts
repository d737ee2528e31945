/**
 * The application layer over the API (podman's `tunnel`): the same methods, arguments and
 * answers as the in-process one of @nsbox/host (its `BoxApi`), so a face written against it
 * runs the same whether it talks to nsboxd or works on the state directory itself.
 */

import type { CreateBoxInput, ExecInput, NsboxClient } from './client.js';
import type { ActionInfo, Box, BoxConfig, BoxEvent, BoxState, ExecResult, Operation, PluginInfo, SetResult } from './types.js';

/** What an operation-action reports to (core's OperationContext has this shape). */
interface ActionProgressContext {
  progress(progress: NonNullable<Operation['progress']>): void;
  signal: AbortSignal;
}

export class RemoteBoxApi {
  constructor(readonly client: NsboxClient) {}

  list(filter: { owner?: string; state?: BoxState; template?: string; name?: string; sync?: boolean } = {}): Promise<Box[]> {
    return this.client.boxes.list(filter);
  }

  get(idOrName: string): Promise<Box> {
    return this.client.boxes.get(idOrName);
  }

  /** Waits for the create operation (and the start, when asked). */
  async create(input: CreateBoxInput): Promise<Box> {
    return (await this.client.boxes.create(input)).wait();
  }

  start(idOrName: string): Promise<Box> {
    return this.client.boxes.start(idOrName);
  }

  stop(idOrName: string, options: { timeout?: number } = {}): Promise<Box> {
    return this.client.boxes.stop(idOrName, options);
  }

  restart(idOrName: string, options: { timeout?: number } = {}): Promise<Box> {
    return this.client.boxes.restart(idOrName, options);
  }

  kill(idOrName: string, signal?: string | number): Promise<{ name: string; signal: number }> {
    return this.client.boxes.kill(idOrName, signal);
  }

  pause(idOrName: string): Promise<Box> {
    return this.client.boxes.pause(idOrName);
  }

  resume(idOrName: string): Promise<Box> {
    return this.client.boxes.resume(idOrName);
  }

  update(idOrName: string, config: Record<string, unknown>): Promise<Box> {
    return this.client.boxes.update(idOrName, config);
  }

  set(idOrName: string, options: Record<string, unknown>): Promise<SetResult> {
    return this.client.boxes.set(idOrName, options);
  }

  destroy(idOrName: string, options: { force?: boolean } = {}): Promise<{ name: string; destroyed: boolean }> {
    return this.client.boxes.destroy(idOrName, options);
  }

  logs(idOrName: string): Promise<string> {
    return this.client.boxes.logs(idOrName);
  }

  followLogs(idOrName: string, options: { fromEnd?: boolean; signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    return this.client.boxes.followLogs(idOrName, options);
  }

  exec(idOrName: string, request: ExecInput): Promise<ExecResult> {
    return this.client.boxes.exec(idOrName, request);
  }

  details(idOrName: string): Promise<Record<string, unknown>> {
    return this.client.boxes.details(idOrName);
  }

  history(
    idOrName: string,
    filter: { kind?: string; since?: number; until?: number; after?: number; limit?: number; last?: number } = {},
  ): Promise<BoxEvent[]> {
    return this.client.boxes.history(idOrName, filter);
  }

  plugins(): Promise<PluginInfo[]> {
    return this.client.plugins.list();
  }

  validateConfig(config: BoxConfig, name?: string): Promise<{ valid: true; config: BoxConfig }> {
    return this.client.validateConfig(config, name);
  }

  actions(): Promise<ActionInfo[]> {
    return this.client.actions.list();
  }

  runAction(plugin: string, action: string, input: unknown = {}, ctx?: ActionProgressContext): Promise<unknown> {
    return this.client.actions.run(plugin, action, input, ctx ? { onProgress: (progress) => ctx.progress(progress), signal: ctx.signal } : {});
  }
}
