/**
 * Plugins' actions: `client.actions.run('limits', 'set', { box: 'web1', memory: '1G' })`, or
 * typed, `client.actions.plugin<LimitsActions>('limits').set({ box: 'web1', memory: '1G' })`.
 * Whether an action reads only (a GET) is learnt once from GET /actions.
 */

import { OperationHandle } from './operation-handle.js';
import type { Query, Transport } from './transport.js';
import type { ActionInfo, ActionMap, Operation } from './types.js';

export interface ActionRunOptions {
  /** An operation-action's progress, as it changes. */
  onProgress?: (progress: NonNullable<Operation['progress']>) => void;
  /** Cancels an operation-action. */
  signal?: AbortSignal;
}

/** Runs each action of a plugin as a method of its name. */
export type PluginActions<M extends ActionMap> = {
  [K in keyof M]: (input: M[K]['input']) => Promise<M[K]['result']>;
};

/** A read-only action's input travels in the query string: flat fields, lists repeated. */
function asQuery(input: unknown): Query {
  const query: Query = {};
  for (const [key, value] of Object.entries((input ?? {}) as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) query[key] = value.map(String);
    else if (typeof value === 'object' && value !== null) query[key] = JSON.stringify(value);
    else query[key] = value as string | number | boolean;
  }
  return query;
}

export class ActionsApi {
  private known: Promise<ActionInfo[]> | undefined;

  constructor(private readonly t: Transport) {}

  /** Every action of every enabled plugin, with its route. */
  list(): Promise<ActionInfo[]> {
    return this.t.json('GET', '/actions');
  }

  private async info(plugin: string, action: string): Promise<ActionInfo | undefined> {
    this.known ??= this.list().catch((error: unknown) => {
      this.known = undefined;
      throw error;
    });
    return (await this.known).find((candidate) => candidate.plugin === plugin && candidate.name === action);
  }

  /**
   * Runs an action; its input is checked by the action's schema (400 naming the field). An
   * action that runs as an API operation is waited for: `onProgress` sees its progress, and
   * `signal` cancels it (DELETE /operations/{id}).
   */
  async run<T = unknown>(plugin: string, action: string, input: unknown = {}, options: ActionRunOptions = {}): Promise<T> {
    const info = await this.info(plugin, action);
    const path = info?.path ?? `/plugins/${encodeURIComponent(plugin)}/actions/${encodeURIComponent(action)}`;
    // An unknown action is POSTed all the same: nsboxd answers 404 naming it.
    if (info?.method === 'GET') return this.t.json<T>('GET', path, { query: asQuery(input) });
    if (!info?.operation) return this.t.json<T>('POST', path, { body: input });
    const handle = new OperationHandle<T>(this.t, await this.t.json<Operation<T>>('POST', path, { body: input }));
    const cancel = () => void handle.cancel().catch(() => undefined);
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await handle.wait({ onProgress: (operation) => operation.progress && options.onProgress?.(operation.progress) });
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }

  /** A plugin's actions as typed methods. */
  plugin<M extends ActionMap>(plugin: string): PluginActions<M> {
    return new Proxy({} as PluginActions<M>, {
      get: (_target, action) => (typeof action === 'string' ? (input: unknown) => this.run(plugin, action, input) : undefined),
    });
  }
}
