/** Boxes: requests and responses. A box config is validated by the core and the plugins. */

import { coreConfigSchema, z } from '@nsbox/core';
import { absolutePath, boxName, boxState, envName, queryFlag, queryInt, repeated, tenantName, userIds } from './common.js';

/** A config as sent; each section is checked against its plugin's schema by the box manager. */
export const configInput = z.record(z.string(), z.unknown());

export const createBoxBody = z.strictObject({
  name: boxName,
  config: configInput,
  /** The tenant that owns the box; a tenant's token may only name its own tenant. */
  owner: tenantName.optional(),
  /** Start the box once it is created (in the same operation). */
  start: z.boolean().default(false),
});

export const updateBoxBody = z.strictObject({
  /** Whole sections to replace; null removes a section. Applied live to a running box. */
  config: z.record(z.string(), z.unknown()),
});

/** `nsbox set`'s options by input field (`memory`, `netRate`, `hostname`...), as the plugins contribute them. */
export const setBoxBody = z.record(z.string(), z.unknown());

/** The box, and each plugin's part of the change under its name. */
export const setBoxView = z.looseObject({ box: z.string(), state: z.string(), appliedInMs: z.number() });

export const listBoxesQuery = z.strictObject({
  state: boxState.optional(),
  owner: tenantName.optional(),
  template: z.string().min(1).optional(),
  /** Names starting with this prefix. */
  name: z.string().min(1).max(63).optional(),
  /** false: the states as the resident agent keeps them, without checking each box's processes. */
  sync: queryFlag.optional(),
});

export const stopBody = z
  .strictObject({
    /** Seconds between SIGTERM and SIGKILL (default 10). */
    timeout: z.number().min(0).max(3600).optional(),
  })
  .optional();

export const killBody = z
  .strictObject({
    signal: z.union([z.number().int().min(1).max(64), z.string().regex(/^(SIG)?[A-Za-z0-9+]+$/, 'must be a signal name or number')]).optional(),
  })
  .optional();

export const destroyQuery = z.strictObject({ force: queryFlag.optional() });

export const execBody = z.strictObject({
  command: z.array(z.string()).min(1, 'needs at least the program to run'),
  env: z.record(envName, z.string()).optional(),
  cwd: absolutePath.optional(),
  user: userIds.optional(),
  /** Given to the process's stdin, then end of file. */
  stdin: z
    .string()
    .max(1024 * 1024)
    .optional(),
  /** Seconds before the process is killed (default 300). */
  timeout: z.number().positive().max(86_400).optional(),
});

export const execSocketQuery = z.strictObject({
  command: repeated(z.string()).pipe(z.array(z.string()).min(1, 'needs at least the program to run')).optional(),
  tty: queryFlag.optional(),
  rows: queryInt(1, 1000).optional(),
  cols: queryInt(1, 1000).optional(),
  cwd: absolutePath.optional(),
  env: repeated(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, 'must be KEY=VALUE')).optional(),
  /** UID:GID inside the box. */
  user: z
    .string()
    .regex(/^\d+:\d+$/, 'must be UID:GID')
    .optional(),
});

export const logsQuery = z.strictObject({
  follow: queryFlag.optional(),
  /** Start at the end of the log (follow only what comes next). */
  tail: queryFlag.optional(),
});

export const historyQuery = z.strictObject({
  kind: z.string().min(1).optional(),
  since: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  until: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInt(1, 10_000).optional(),
  /** Only the last N events. */
  last: queryInt(1, 10_000).optional(),
});

/** A stored config: the core's fields as validated, and one section per plugin (its schema's output). */
export const boxConfigView = coreConfigSchema.catchall(z.unknown());

export const boxView = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.string().nullable(),
  state: boxState,
  config: boxConfigView,
  runtime: z.record(z.string(), z.unknown()).describe('facts the runtime records: init and shim pids, rootfs, exit status, the OCI spec (single box only)'),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export const execResult = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().optional().describe('true when the output went past what nsboxd keeps and the rest was dropped'),
});

export const boxEvent = z.object({
  id: z.number().int(),
  boxId: z.string(),
  kind: z.string(),
  source: z.string(),
  time: z.number(),
  data: z.record(z.string(), z.unknown()),
});

/** What each plugin says about a box (GET /boxes/{id}/details): a section per plugin. */
export const boxDetailsView = z.record(z.string(), z.unknown());

export const destroyedView = z.object({ name: z.string(), destroyed: z.boolean() });

export const killedView = z.object({ name: z.string(), signal: z.number() });
