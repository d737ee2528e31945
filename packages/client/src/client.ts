/**
 * The nsbox SDK: every route of nsboxd as a typed method, grouped the way a panel thinks
 * (boxes, operations, events, templates, plugins, tenants, tokens, host).
 */

import { ActionsApi } from './actions.js';
import { ExecSession } from './exec-session.js';
import { OperationHandle } from './operation-handle.js';
import { readSse } from './sse.js';
import { type ClientOptions, type Query, queryString, Transport } from './transport.js';
import type {
  AuditEntry,
  Box,
  BoxConfig,
  BoxEvent,
  BoxState,
  Caller,
  ExecResult,
  HostInfo,
  Operation,
  OperationStatus,
  PluginDetails,
  PluginInfo,
  Quotas,
  Role,
  SetResult,
  Template,
  Tenant,
  TenantPolicy,
  TenantUsage,
  TokenRecord,
} from './types.js';
import { connectWebSocket } from './websocket.js';

const box = (idOrName: string) => `/boxes/${encodeURIComponent(idOrName)}`;

export interface CreateBoxInput {
  name: string;
  config: BoxConfig;
  /** The tenant (host-wide tokens only; a tenant's token creates for itself). */
  owner?: string;
  /** Start it once created, in the same operation. */
  start?: boolean;
}

export interface ExecInput {
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: { uid: number; gid: number };
  /** Given to the process's stdin, then end of file. */
  stdin?: string;
  /** Seconds before the process is killed. */
  timeout?: number;
}

export interface ConsoleInput {
  /** Default /bin/sh. */
  command?: string[];
  /** A pty (default true). */
  tty?: boolean;
  rows?: number;
  cols?: number;
  cwd?: string;
  env?: Record<string, string>;
  user?: { uid: number; gid: number };
}

export interface EventFilter {
  /** A box's name or id. */
  box?: string;
  tenant?: string;
  /** `state`, `state.running`, `limits`... (a prefix of dotted kinds). */
  kind?: string;
}

export interface StreamOptions extends EventFilter {
  /** Resume after this event id (default: only events from now on). */
  after?: number;
  signal?: AbortSignal;
  /** Reconnect (resuming after the last event seen) when the connection drops; default true. */
  reconnect?: boolean;
}

export interface StatsRange {
  /** A span back from now: 90s, 30m, 1h, 2d, 1w. */
  since?: string;
  from?: Date | string | number;
  /** Default: now. */
  to?: Date | string | number;
}

class BoxesApi {
  constructor(private readonly t: Transport) {}

  /** `sync: false`: the states as nsboxd's agent keeps them, without checking each box's processes (a panel that polls). */
  list(filter: { state?: BoxState; owner?: string; template?: string; name?: string; sync?: boolean } = {}): Promise<Box[]> {
    const { sync, ...rest } = filter;
    return this.t.json('GET', '/boxes', { query: { ...rest, sync: sync === undefined ? undefined : String(sync) } });
  }

  get(idOrName: string): Promise<Box> {
    return this.t.json('GET', box(idOrName));
  }

  /** Starts the create; `await (await client.boxes.create(...)).wait()` for the box. */
  async create(input: CreateBoxInput): Promise<OperationHandle<Box>> {
    return new OperationHandle<Box>(this.t, await this.t.json<Operation<Box>>('POST', '/boxes', { body: input }));
  }

  /** What each plugin says about the box (its boxInfo section: isolation, limits...). */
  details(idOrName: string): Promise<Record<string, unknown>> {
    return this.t.json('GET', `${box(idOrName)}/details`);
  }

  /** Replaces config sections (null removes one); a running box gets them live. */
  update(idOrName: string, config: Record<string, unknown>): Promise<Box> {
    return this.t.json('PATCH', box(idOrName), { body: { config } });
  }

  /**
   * `nsbox set`: the plugins' set options by input field (`{ memory: '512M', netRate: '10mbit',
   * hostname: 'web' }`), all validated before any is applied; a running box gets them live.
   */
  set(idOrName: string, options: Record<string, unknown>): Promise<SetResult> {
    return this.t.json('POST', `${box(idOrName)}/set`, { body: options });
  }

  start(idOrName: string): Promise<Box> {
    return this.t.json('POST', `${box(idOrName)}/start`);
  }

  /** `timeout`: seconds between SIGTERM and SIGKILL (default 10). */
  stop(idOrName: string, options: { timeout?: number } = {}): Promise<Box> {
    return this.t.json('POST', `${box(idOrName)}/stop`, { body: options });
  }

  restart(idOrName: string, options: { timeout?: number } = {}): Promise<Box> {
    return this.t.json('POST', `${box(idOrName)}/restart`, { body: options });
  }

  pause(idOrName: string): Promise<Box> {
    return this.t.json('POST', `${box(idOrName)}/pause`);
  }

  resume(idOrName: string): Promise<Box> {
    return this.t.json('POST', `${box(idOrName)}/resume`);
  }

  kill(idOrName: string, signal: string | number = 'SIGTERM'): Promise<{ name: string; signal: number }> {
    return this.t.json('POST', `${box(idOrName)}/kill`, { body: { signal } });
  }

  destroy(idOrName: string, options: { force?: boolean } = {}): Promise<{ name: string; destroyed: boolean }> {
    return this.t.json('DELETE', box(idOrName), { query: { force: options.force ? 'true' : undefined } });
  }

  exec(idOrName: string, input: ExecInput): Promise<ExecResult> {
    return this.t.json('POST', `${box(idOrName)}/exec`, { body: input });
  }

  /** An interactive session over a websocket: the panel's web console. */
  async console(idOrName: string, input: ConsoleInput = {}): Promise<ExecSession> {
    const query: Query = {
      command: input.command,
      tty: input.tty === undefined ? undefined : String(input.tty),
      rows: input.rows,
      cols: input.cols,
      cwd: input.cwd,
      env: input.env ? Object.entries(input.env).map(([key, value]) => `${key}=${value}`) : undefined,
      user: input.user ? `${input.user.uid}:${input.user.gid}` : undefined,
    };
    return new ExecSession(await connectWebSocket(this.t, `${box(idOrName)}/exec/socket${queryString(query)}`));
  }

  /**
   * Attaches to the box's console (its terminal, held by its shim: a systemd box's login
   * prompt); `exited` resolves (0) when the console closes. One client at a time per box.
   */
  async attachConsole(idOrName: string): Promise<ExecSession> {
    return new ExecSession(await connectWebSocket(this.t, `${box(idOrName)}/console/socket`));
  }

  /** The console output so far. */
  logs(idOrName: string): Promise<string> {
    return this.t.text('GET', `${box(idOrName)}/logs`);
  }

  /** The console output as it comes, until the box stops (or `signal` aborts). */
  async *followLogs(idOrName: string, options: { fromEnd?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<Buffer> {
    const response = await this.t.open('GET', `${box(idOrName)}/logs`, {
      query: { follow: 'true', tail: options.fromEnd ? 'true' : undefined },
      stream: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      for await (const chunk of response) yield chunk as Buffer;
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
  }

  history(idOrName: string, query: { kind?: string; since?: number; until?: number; after?: number; limit?: number; last?: number } = {}): Promise<BoxEvent[]> {
    return this.t.json('GET', `${box(idOrName)}/history`, { query });
  }

  /** The running box's usage now (a plugin keeps it: tracking); `T` is that plugin's view. */
  stats<T = Record<string, unknown>>(idOrName: string): Promise<T> {
    return this.t.json('GET', `${box(idOrName)}/stats`);
  }

  /** The box's usage history: `{ since: '1h' }`, or `{ from, to }` (Date, ISO 8601 or epoch milliseconds). */
  statsHistory<T = Record<string, unknown>>(idOrName: string, range: StatsRange): Promise<T> {
    const time = (value: Date | string | number | undefined) => (value instanceof Date ? value.toISOString() : value === undefined ? undefined : String(value));
    return this.t.json('GET', `${box(idOrName)}/stats/history`, { query: { since: range.since, from: time(range.from), to: time(range.to) } });
  }

  /** The running box's usage now, then at each new sample; ends when the box stops running (or `signal` aborts). */
  async *followStats<T = Record<string, unknown>>(idOrName: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<T> {
    const response = await this.t.open('GET', `${box(idOrName)}/stats/stream`, { stream: true, ...(options.signal ? { signal: options.signal } : {}) });
    try {
      for await (const message of readSse(response)) {
        if (message.event === 'stats') yield JSON.parse(message.data) as T;
        else if (message.event === 'end') return;
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
  }
}

class OperationsApi {
  constructor(private readonly t: Transport) {}

  list(filter: { status?: OperationStatus } = {}): Promise<Operation[]> {
    return this.t.json('GET', '/operations', { query: filter });
  }

  get(id: string): Promise<Operation> {
    return this.t.json('GET', `/operations/${id}`);
  }

  /** The operation once ended, or as it is after `timeout` seconds. */
  wait(id: string, timeout = 30): Promise<Operation> {
    return this.t.json('GET', `/operations/${id}/wait`, { query: { timeout }, stream: true });
  }

  /** Each change of the operation until it ends. */
  async *watch(id: string, signal?: AbortSignal): AsyncGenerator<Operation> {
    const response = await this.t.open('GET', `/operations/${id}/watch`, { stream: true, ...(signal ? { signal } : {}) });
    for await (const message of readSse(response)) if (message.event === 'operation') yield JSON.parse(message.data) as Operation;
  }

  cancel(id: string): Promise<Operation> {
    return this.t.json('DELETE', `/operations/${id}`);
  }

  /** A handle (wait with progress, cancel) for an operation id. */
  async handle<T = unknown>(id: string): Promise<OperationHandle<T>> {
    return new OperationHandle<T>(this.t, (await this.get(id)) as Operation<T>);
  }
}

class EventsApi {
  constructor(private readonly t: Transport) {}

  /** Events after an id, oldest first. */
  list(query: EventFilter & { after?: number; limit?: number } = {}): Promise<{ events: BoxEvent[]; lastId: number }> {
    return this.t.json('GET', '/events', { query: { ...query } });
  }

  /**
   * Live events, in order, as an async iterator. The stream resumes after the last event
   * it delivered when the connection drops (or nsboxd restarts): nothing is lost or repeated.
   */
  async *stream(options: StreamOptions = {}): AsyncGenerator<BoxEvent> {
    let after = options.after;
    let delay = 100;
    for (;;) {
      if (options.signal?.aborted) return;
      try {
        const response = await this.t.open('GET', '/events/stream', {
          query: { box: options.box, tenant: options.tenant, kind: options.kind, after },
          stream: true,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        delay = 100;
        for await (const message of readSse(response)) {
          if (message.event === 'ready') after ??= (JSON.parse(message.data) as { after: number }).after;
          if (message.event !== 'box') continue;
          const event = JSON.parse(message.data) as BoxEvent;
          after = event.id;
          yield event;
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (options.reconnect === false || (error as { status?: number }).status !== undefined) throw error;
      }
      if (options.reconnect === false) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

class TemplatesApi {
  constructor(private readonly t: Transport) {}

  list(): Promise<Template[]> {
    return this.t.json('GET', '/templates');
  }

  get(name: string): Promise<Template> {
    return this.t.json('GET', `/templates/${encodeURIComponent(name)}`);
  }

  /** Imports a template (or, given a built-in's name as the source, builds its cache). */
  async import(input: { source: string; name?: string; owner?: string; shared?: boolean }): Promise<OperationHandle<Template>> {
    return new OperationHandle<Template>(this.t, await this.t.json<Operation<Template>>('POST', '/templates', { body: input }));
  }

  /** Gives an imported template to a tenant (null: the host admin) or shares it with every tenant. */
  update(name: string, changes: { owner?: string | null; shared?: boolean }): Promise<Template> {
    return this.t.json('PATCH', `/templates/${encodeURIComponent(name)}`, { body: changes });
  }

  remove(name: string): Promise<{ name: string; removed: boolean }> {
    return this.t.json('DELETE', `/templates/${encodeURIComponent(name)}`);
  }
}

class PluginsApi {
  constructor(private readonly t: Transport) {}

  list(): Promise<PluginInfo[]> {
    return this.t.json('GET', '/plugins');
  }

  get(name: string): Promise<PluginDetails> {
    return this.t.json('GET', `/plugins/${encodeURIComponent(name)}`);
  }

  /** The routes a plugin adds, under /plugins/{name}. */
  routes(name: string) {
    const base = `/plugins/${encodeURIComponent(name)}`;
    const path = (sub: string) => `${base}${sub.startsWith('/') ? sub : `/${sub}`}`;
    return {
      get: <T = unknown>(sub: string, query?: Query) => this.t.json<T>('GET', path(sub), query ? { query } : {}),
      post: <T = unknown>(sub: string, body?: unknown) => this.t.json<T>('POST', path(sub), body === undefined ? {} : { body }),
      put: <T = unknown>(sub: string, body?: unknown) => this.t.json<T>('PUT', path(sub), body === undefined ? {} : { body }),
      patch: <T = unknown>(sub: string, body?: unknown) => this.t.json<T>('PATCH', path(sub), body === undefined ? {} : { body }),
      delete: <T = unknown>(sub: string) => this.t.json<T>('DELETE', path(sub)),
    };
  }
}

class TenantsApi {
  constructor(private readonly t: Transport) {}

  list(): Promise<Tenant[]> {
    return this.t.json('GET', '/tenants');
  }

  create(input: { name: string; description?: string; quotas?: Quotas; policy?: Partial<TenantPolicy> }): Promise<Tenant> {
    return this.t.json('POST', '/tenants', { body: input });
  }

  get(name: string): Promise<Tenant> {
    return this.t.json('GET', `/tenants/${encodeURIComponent(name)}`);
  }

  update(name: string, changes: { description?: string; quotas?: Quotas; policy?: Partial<TenantPolicy> }): Promise<Tenant> {
    return this.t.json('PATCH', `/tenants/${encodeURIComponent(name)}`, { body: changes });
  }

  remove(name: string): Promise<{ name: string; removed: boolean }> {
    return this.t.json('DELETE', `/tenants/${encodeURIComponent(name)}`);
  }

  usage(name: string): Promise<TenantUsage> {
    return this.t.json('GET', `/tenants/${encodeURIComponent(name)}/usage`);
  }
}

/** A plugin's uploads: bytes streamed to it whole (a migration's archive), `PUT /plugins/{plugin}/uploads/{name}/{id}`. */
class UploadsApi {
  constructor(private readonly t: Transport) {}

  /** Streams exactly `length` bytes of `body`; the plugin's answer once it has kept them all. */
  put<T = unknown>(plugin: string, name: string, id: string, body: AsyncIterable<Uint8Array>, options: { length: number; signal?: AbortSignal }): Promise<T> {
    const path = `/plugins/${encodeURIComponent(plugin)}/uploads/${encodeURIComponent(name)}/${encodeURIComponent(id)}`;
    return this.t.upload<T>(path, body, options.length, options.signal);
  }
}

class TokensApi {
  constructor(private readonly t: Transport) {}

  list(): Promise<TokenRecord[]> {
    return this.t.json('GET', '/tokens');
  }

  /** The secret (`token`) is in this answer only. */
  create(input: { name: string; role: Role; tenant?: string | null; expiresIn?: number }): Promise<{ token: string; record: TokenRecord }> {
    return this.t.json('POST', '/tokens', { body: input });
  }

  revoke(id: string): Promise<TokenRecord> {
    return this.t.json('DELETE', `/tokens/${encodeURIComponent(id)}`);
  }
}

export class NsboxClient {
  readonly boxes: BoxesApi;
  readonly operations: OperationsApi;
  readonly events: EventsApi;
  readonly templates: TemplatesApi;
  readonly plugins: PluginsApi;
  readonly tenants: TenantsApi;
  readonly tokens: TokensApi;
  /** Plugins' actions: `run(plugin, action, input)`, or typed with `plugin<Map>(name)`. */
  readonly actions: ActionsApi;
  readonly uploads: UploadsApi;
  private readonly transport: Transport;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options);
    this.boxes = new BoxesApi(this.transport);
    this.operations = new OperationsApi(this.transport);
    this.events = new EventsApi(this.transport);
    this.templates = new TemplatesApi(this.transport);
    this.plugins = new PluginsApi(this.transport);
    this.tenants = new TenantsApi(this.transport);
    this.tokens = new TokensApi(this.transport);
    this.actions = new ActionsApi(this.transport);
    this.uploads = new UploadsApi(this.transport);
  }

  /** A client from NSBOX_URL or NSBOX_SOCKET, and NSBOX_TOKEN. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): NsboxClient {
    return new NsboxClient({
      ...(env.NSBOX_URL ? { url: env.NSBOX_URL } : {}),
      ...(env.NSBOX_SOCKET ? { socketPath: env.NSBOX_SOCKET } : {}),
      ...(env.NSBOX_TOKEN ? { token: env.NSBOX_TOKEN } : {}),
    });
  }

  health(): Promise<{ status: 'ok'; version: string }> {
    return this.transport.json('GET', '/health');
  }

  openapi(): Promise<Record<string, unknown>> {
    return this.transport.json('GET', '/openapi.json');
  }

  host(): Promise<HostInfo> {
    return this.transport.json('GET', '/host');
  }

  /** Usage of the boxes this token may see, in Prometheus' text exposition format (`GET /metrics`). */
  metrics(): Promise<string> {
    return this.transport.text('GET', '/metrics');
  }

  whoami(): Promise<Caller> {
    return this.transport.json('GET', '/whoami');
  }

  audit(query: { tenant?: string; token?: string; after?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.transport.json('GET', '/audit', { query });
  }

  /** Checks a config against the core and every plugin without creating anything. */
  validateConfig(config: BoxConfig, name?: string): Promise<{ valid: true; config: BoxConfig }> {
    return this.transport.json('POST', '/config/validate', { body: { config, ...(name ? { name } : {}) } });
  }

  /** Any call, for what this SDK does not wrap yet. */
  request<T = unknown>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    return this.transport.json<T>(method, path, options);
  }

  /** Closes kept-alive connections (a short script exits sooner). */
  close(): void {
    this.transport.close();
  }
}
