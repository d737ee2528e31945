/**
 * The contribution points the core defines. Plugins contribute with `contribute(point, value)`
 * in their `setup`; faces ask `host.contributions(point)` and lose their conventions
 * (no service looked up by the name 'boxInfo', no face guessing a plugin's config keys).
 */

import type { Box, BoxConfig } from './box.js';
import type { BoxExitInfo } from './plugin.js';
import { createContributionPoint } from './service-ref.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** A section of `nsbox info` / `GET /boxes/{id}/info`. */
export interface BoxInfoContribution {
  /** The section's name (usually the plugin's). */
  section: string;
  describe(box: Box): unknown | Promise<unknown>;
}
export const boxInfoPoint = createContributionPoint<BoxInfoContribution>({ id: 'core.box-info' });

/**
 * What a box costs its tenant, per resource (`memory` bytes, `disk` bytes, `cpus`...), read from
 * its config by the plugin that owns the fields. nsboxd checks the sums against tenant quotas.
 */
export interface QuotaClaimContribution {
  /** Resource name → unit, for quota documents: `{ memory: 'bytes', disk: 'bytes' }`. */
  resources: Record<string, 'bytes' | 'count' | 'cpus'>;
  /** This box's claim on each resource; a resource it does not limit is left out. */
  claims(config: BoxConfig): Record<string, number>;
}
export const quotaClaimPoint = createContributionPoint<QuotaClaimContribution>({ id: 'core.quota-claim' });

/**
 * A section of the host's own facts (nsboxd's `GET /host`, under `plugins`): what a plugin
 * found on the host that it depends on (the migration plugin's criu and `criu check`).
 */
export interface HostInfoContribution {
  section: string;
  describe(): unknown | Promise<unknown>;
}
export const hostInfoPoint = createContributionPoint<HostInfoContribution>({ id: 'core.host-info' });

/** A pool of the host that boxes draw from (disk image pools, address pools, uid ranges). */
export interface HostPoolInfo {
  name: string;
  /** Facts of the pool (path, size, free, images...), as its plugin reports them. */
  [fact: string]: unknown;
}
export interface HostPoolContribution {
  plugin: string;
  list(): HostPoolInfo[];
}
export const hostPoolPoint = createContributionPoint<HostPoolContribution>({ id: 'core.host-pools' });

/** One sample of a metric (Prometheus naming: `nsbox_box_memory_bytes`). */
export interface MetricSample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labels: Record<string, string>;
  value: number;
}
export interface MetricsContribution {
  /**
   * Samples for the boxes given (all running boxes of the host when the face asks). A sample
   * is never changed once returned: a contribution may return the same objects again while
   * its figures hold (nsboxd then writes each once rather than at every scrape).
   */
  collect(boxes: readonly Box[]): MetricSample[] | Promise<MetricSample[]>;
  /**
   * Calls `listener` each time what `collect` gives changes (tracking: at the end of each
   * sampler round, which waits for the listener's promise); returns the unsubscribe. nsboxd
   * then writes the new samples for a caller that scrapes at that pace, not in its request.
   */
  onChange?(listener: () => void | Promise<void>): () => void;
}
export const metricsPoint = createContributionPoint<MetricsContribution>({ id: 'core.metrics' });

/**
 * A box's usage as nsboxd's `GET /boxes/{id}/stats` routes serve it: now, over a span of its
 * history, and as each new sample is taken. `name` is the box as the caller names it (a
 * tenant's name within the tenant). The first contribution answers; none: the routes say so.
 */
export interface BoxStatsRange {
  /** A span back from now: `90s`, `30m`, `1h`, `2d`, `1w`. */
  since?: string;
  /** From and to: ISO 8601 times or milliseconds since the epoch (`to` defaults to now). */
  from?: string;
  to?: string;
}
export interface BoxStatsContribution {
  /** The box's usage now (E_INVALID_STATE when it has none: not running). */
  current(box: Box, name: string): Promise<unknown>;
  /** The box's history over the range (E_INVALID_ARGUMENT naming the field of a bad range). */
  history(box: Box, name: string, range: BoxStatsRange): unknown | Promise<unknown>;
  /** Calls `onStats` with the usage now, then with each new sample, until `signal` aborts or the box stops running. */
  follow(box: Box, name: string, onStats: (stats: unknown) => void, signal: AbortSignal): Promise<void>;
}
export const boxStatsPoint = createContributionPoint<BoxStatsContribution>({ id: 'core.box-stats' });

/**
 * An option of `nsbox create` and `nsbox run` that fills the contributing plugin's section of
 * the new box's config (`--net bridge`, `--ip 10.88.0.5`): the plugin owns its fields, the CLI
 * only parses. The config then goes through the BoxApi as any other (validation, tenant policy).
 */
export interface BoxOptionContribution {
  /** commander syntax: `--net <mode>`. */
  flags: string;
  description: string;
  /** The option may be given more than once; its values then come as an array. */
  repeatable?: boolean;
  /** The commander attribute the value lands in (`--ip <addr>` → `ip`). */
  key: string;
  /** Writes the value into the config being built. */
  apply(config: Record<string, unknown>, value: unknown): void;
}
export const boxOptionPoint = createContributionPoint<BoxOptionContribution>({ id: 'core.box-option' });

/** One option of `nsbox set`: its input field is the commander attribute of `flags` (`--net-rate <rate>` → `netRate`). */
export interface SetOption {
  /** commander syntax: `--memory <size>`, `--reset-limits`. */
  flags: string;
  description: string;
  /** The option may be given more than once; its values then come as an array. */
  repeatable?: boolean;
}

/** The whole `nsbox set` call, as a part's renderer sees it. */
export interface SetOutcome {
  box: string;
  state: string;
  /** How long the config change with the plugins' live updates took. */
  appliedInMs: number;
}

/**
 * A plugin's part of `nsbox set NAME ...` (`POST /boxes/{id}/set`, the SDK's `boxes.set`): its
 * options, and what they change. The core validates every part's values first, then makes one
 * config change of all parts through the BoxApi (the schemas, tenant policy, quotas, and each
 * plugin's `update` hook applying its own section live, rolled back together), then runs the
 * parts' live steps. A bad value of any part therefore changes nothing.
 */
export interface SetOptionContribution {
  /** The contributing plugin: the result shows its part under this name. */
  plugin: string;
  /** Input field → option. Fields are unique across plugins (a clash is refused at `set`). */
  options: Record<string, SetOption>;
  /** Validates this part's given fields (a strict object of them), naming each bad one. */
  input: StandardSchemaV1;
  /** The config changes of the given (validated) fields, as BoxApi.update takes them: whole sections or core fields. */
  changes(box: Box, values: Record<string, unknown>): Record<string, unknown>;
  /**
   * What the update hooks cannot do for a running box (a core field such as `hostname`), run
   * after the change was kept; `box` is the stored box with its new config, `previous` as it was.
   */
  applyLive?(box: Box, values: Record<string, unknown>, previous: Box): unknown | Promise<unknown>;
  /** This part of the result (its live step's result given). */
  report?(box: Box, live: unknown): unknown;
  /** This part's human rendering; the CLI prints the part as JSON without it. */
  render?(part: unknown, outcome: SetOutcome): string;
}
export const setOptionPoint = createContributionPoint<SetOptionContribution>({ id: 'core.set-option' });

/**
 * What happens to a box after its init ended by itself (an exit, a signal, a reboot or halt
 * from inside). Without a policy the core decides: a reboot restarts, a halt stops, anything
 * else follows the box's `restart` field. A policy of a plugin that applies to the box decides
 * instead (the first that answers); it may delay the restart (a backoff) or refuse it with a
 * reason (a restart loop given up).
 */
export interface ExitPolicyInput {
  box: Box;
  exit: BoxExitInfo;
  /** The contributing plugin's section of the box's config (with its defaults). */
  config: unknown;
  /** What the core alone would do: restart or not. */
  restartByDefault: boolean;
  now: number;
}
export type ExitDecision = { restart: true; delayMs?: number } | { restart: false; reason?: string };
export interface ExitPolicyContribution {
  /** The contributing plugin: the policy applies to boxes that plugin applies to. */
  plugin: string;
  /** Undefined leaves the decision to the next policy, then to the core. */
  decide(input: ExitPolicyInput): ExitDecision | undefined;
}
export const exitPolicyPoint = createContributionPoint<ExitPolicyContribution>({ id: 'core.exit-policy' });

/**
 * A stream of bytes a plugin takes whole, too big for a JSON body: nsboxd's
 * `PUT /plugins/{plugin}/uploads/{name}/{id}` (`application/octet-stream`, its length given,
 * a host-wide admin token) hands the request's body to `receive` as it arrives (a migration's
 * archive). `receive` keeps the bytes only once all `length` of them came: a stream cut short,
 * longer than said or refused leaves nothing of it.
 */
export interface UploadContribution {
  /** The contributing plugin (the route's `{plugin}`). */
  plugin: string;
  /** The route's `{name}`: what is uploaded. */
  name: string;
  /** A longer body is refused before a byte is read (413). */
  maxBytes: number;
  /** Checks `id` (E_INVALID_ARGUMENT naming `id`) and takes the body; the result is the route's answer. */
  receive(id: string, body: AsyncIterable<Buffer>, input: { length: number; signal: AbortSignal }): Promise<unknown>;
}
export const uploadPoint = createContributionPoint<UploadContribution>({ id: 'core.upload' });
