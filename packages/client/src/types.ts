/** The API's objects, as nsboxd sends them (see GET /openapi.json for the full schemas). */

export type BoxState = 'defined' | 'created' | 'running' | 'paused' | 'stopped' | 'creating' | 'starting' | 'pausing' | 'resuming' | 'stopping' | 'destroying';
export type Role = 'read-only' | 'operator' | 'admin';

/** A box config: the core's fields plus one section per plugin (`limits`, `isolation`...). */
export interface BoxConfig {
  rootfs?: string;
  template?: string;
  process?: { args?: string[]; env?: Record<string, string>; cwd?: string; user?: { uid: number; gid: number }; terminal?: boolean };
  hostname?: string;
  plugins?: { disable?: string[] };
  restart?: 'no' | 'on-failure' | 'always';
  annotations?: Record<string, string>;
  [section: string]: unknown;
}

export interface Box {
  id: string;
  name: string;
  /** The tenant that owns it; null for the host admin's boxes. */
  owner: string | null;
  state: BoxState;
  config: BoxConfig;
  /** Facts the runtime records: init/shim pids, rootfs, exit status, the OCI spec (single box only). */
  runtime: Record<string, unknown> & {
    init?: { pid: number };
    exit?: { state: string; exitCode?: number; signal?: number };
    /** Single box only: what the shim recorded when init last exited. */
    lastExit?: { exitCode?: number; signal?: number; at?: number };
    spec?: unknown;
  };
  createdAt: number;
  updatedAt: number;
}

/** What `boxes.set` did: the box, and each plugin's part of the change under its name. */
export interface SetResult {
  box: string;
  state: BoxState;
  appliedInMs: number;
  [plugin: string]: unknown;
}

export interface BoxEvent {
  /** Monotonic: resume a stream after the last id seen. */
  id: number;
  boxId: string;
  /** `state.running`, `box.defined`, `limits.oom`... */
  kind: string;
  /** `core` or the plugin that reported it. */
  source: string;
  time: number;
  data: Record<string, unknown>;
}

export interface ApiErrorShape {
  code: string;
  message: string;
  field?: string;
  details: Record<string, unknown>;
}

export type OperationStatus = 'running' | 'success' | 'failure' | 'cancelled';

export interface Operation<T = unknown> {
  id: string;
  kind: string;
  description: string;
  status: OperationStatus;
  tenant: string | null;
  resources: { boxes?: string[]; templates?: string[] };
  progress: { step: string; percent?: number; message?: string } | null;
  result: T | null;
  error: ApiErrorShape | null;
  cancellable: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated?: boolean;
}

export interface Template {
  name: string;
  kind: 'builtin' | 'imported';
  cached: boolean;
  description: string;
  /** Host paths: shown to host-wide tokens only. */
  source?: string;
  path?: string;
  owner?: string | null;
  shared?: boolean;
  createdAt?: number;
}

export interface PluginInfo {
  name: string;
  version: string;
  core: string;
  requires: Record<string, string>;
  enabled: boolean;
  publishes: string[];
  commands: string[];
  /** Its actions by name (GET /actions for their routes). */
  actions: string[];
  description?: string;
}

export interface PluginDetails extends PluginInfo {
  coreApi: string;
  configSchema: unknown;
  routes: string[];
}

/** A plugin's action: declared once, a CLI command, this route and `client.actions.run()`. */
export interface ActionInfo {
  plugin: string;
  name: string;
  description: string;
  /** About one box: the input names it in `box`. */
  box: boolean;
  /** GET, input in the query string; not audited. */
  readOnly: boolean;
  /** Only for host-wide tokens. */
  hostWide: boolean;
  role: Role;
  method: 'GET' | 'POST';
  path: string;
  /** The `nsbox` command. */
  command: string;
  /** Runs as an API operation: `actions.run` waits for it (progress, cancel). */
  operation: boolean;
}

/** The input and result types of a plugin's actions by name (`ActionTypes` of @nsbox/core gives them). */
export type ActionMap = Record<string, { input: unknown; result: unknown }>;

export interface HostInfo {
  nsboxd: { version: string; coreApi: string; pid: number; startedAt: number; operationsRunning: number };
  kernel: { release: string; version: string; arch: string };
  features: Record<string, unknown>;
  cgroups: Record<string, unknown>;
  /** The state directory's pool, and the pools plugins add (`plugin` names the plugin; its own facts come along). */
  storage: { name: string; path: string; filesystem: string; sizeBytes: number; freeBytes: number; plugin?: string; [fact: string]: unknown }[];
  boxes: Record<string, number>;
  /** Each plugin's section of the host's facts (the migration plugin's criu verdict...). */
  plugins: Record<string, unknown>;
}

export interface Quotas {
  boxes?: number;
  /** Bytes (a number) or a size such as "4G" when sent. */
  memory?: number | string;
  disk?: number | string;
}

/**
 * What a tenant may set beyond the tenant-safe baseline: field paths (`isolation.mounts`) or
 * caps (`limits.rlimits.nofile <= 4096`), for all its tokens and per role.
 */
export interface TenantPolicy {
  grants: string[];
  roles: { operator?: string[]; admin?: string[] };
}

export interface Tenant {
  name: string;
  description: string;
  quotas: { boxes?: number; memory?: number; disk?: number };
  policy: TenantPolicy;
  createdAt: number;
  updatedAt: number;
}

export interface TenantUsage {
  tenant: string;
  quotas: Tenant['quotas'];
  usage: { boxes: number; memory: number; disk: number };
}

export interface TokenRecord {
  id: string;
  name: string;
  tenant: string | null;
  role: Role;
  createdBy: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface Caller {
  tokenId: string;
  name: string;
  tenant: string | null;
  role: Role;
}

export interface AuditEntry {
  id: number;
  time: number;
  tokenId: string | null;
  tokenName: string | null;
  tenant: string | null;
  role: string | null;
  method: string;
  url: string;
  route: string | null;
  box: string | null;
  status: number;
  code: string | null;
  durationMs: number;
}
