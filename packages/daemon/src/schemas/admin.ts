/** Tenants, tokens, audit, operations, templates, plugins, host: requests and responses. */

import { z } from '@nsbox/core';
import { parseGrant } from '../tenancy/tenant-grants.js';
import { boxConfigView, boxEvent } from './boxes.js';
import { boxName, bytes, queryInt, role, templateName, tenantName } from './common.js';

export const quotasInput = z.strictObject({
  boxes: z.number().int().min(0).optional(),
  memory: bytes.optional(),
  disk: bytes.optional(),
});

export const tenantRef = z.strictObject({ name: tenantName });

/** `isolation.mounts` (that field and all below it) or `limits.rlimits.nofile <= 4096` (a cap). */
const grantText = z
  .string()
  .max(500)
  .superRefine((text, context) => {
    try {
      parseGrant(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/** What a tenant may set beyond the tenant-safe baseline: for all its tokens, and per role. */
export const policyInput = z.strictObject({
  grants: z.array(grantText).max(200).default([]),
  roles: z.strictObject({ operator: z.array(grantText).max(200).optional(), admin: z.array(grantText).max(200).optional() }).default({}),
});

export const createTenantBody = z.strictObject({
  // '--' separates a tenant from its box names in the host-wide names (boxes/box-names.ts).
  name: tenantName.refine((name) => !name.includes('--'), "must not contain '--'"),
  description: z.string().max(1000).optional(),
  quotas: quotasInput.optional(),
  policy: policyInput.optional(),
});

export const updateTenantBody = z.strictObject({
  description: z.string().max(1000).optional(),
  quotas: quotasInput.optional(),
  /** Replaces the tenant's whole policy. */
  policy: policyInput.optional(),
});

export const tenantView = z.object({
  name: z.string(),
  description: z.string(),
  quotas: z.object({ boxes: z.number().optional(), memory: z.number().optional(), disk: z.number().optional() }),
  policy: z.object({ grants: z.array(z.string()), roles: z.object({ operator: z.array(z.string()).optional(), admin: z.array(z.string()).optional() }) }),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export const usageView = z.object({
  tenant: z.string(),
  quotas: tenantView.shape.quotas,
  usage: z.object({ boxes: z.number(), memory: z.number(), disk: z.number() }),
});

/** What DELETE answers for a tenant or a template. */
export const removedView = z.object({ name: z.string(), removed: z.boolean() });

export const createTokenBody = z.strictObject({
  name: z.string().min(1).max(200),
  /** Omitted or null: a host-wide token (host admins only). */
  tenant: tenantName.nullable().optional(),
  role,
  /** Seconds until the token stops working. */
  expiresIn: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 86_400)
    .optional(),
});

export const tokenRef = z.strictObject({ id: z.string().regex(/^tok_[0-9a-f]{12}$/, 'must be a token id (tok_...)') });

export const tokenView = z.object({
  id: z.string(),
  name: z.string(),
  tenant: z.string().nullable(),
  role,
  createdBy: z.string().nullable(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
});

export const issuedToken = z.object({ token: z.string().describe('the secret: shown once, stored hashed'), record: tokenView });

/** The token a call was made with (GET /whoami). */
export const callerView = z.object({ tokenId: z.string(), name: z.string(), tenant: z.string().nullable(), role });

export const auditQuery = z.strictObject({
  tenant: tenantName.optional(),
  token: z.string().optional(),
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInt(1, 10_000).optional(),
});

export const auditEntry = z.object({
  id: z.number(),
  time: z.number(),
  tokenId: z.string().nullable(),
  tokenName: z.string().nullable(),
  tenant: z.string().nullable(),
  role: z.string().nullable(),
  method: z.string(),
  url: z.string(),
  route: z.string().nullable(),
  box: z.string().nullable(),
  status: z.number(),
  code: z.string().nullable(),
  durationMs: z.number(),
});

export const operationRef = z.strictObject({ id: z.uuid('must be an operation id') });
export const operationStatus = z.enum(['running', 'success', 'failure', 'cancelled']);
export const listOperationsQuery = z.strictObject({ status: operationStatus.optional() });
export const waitQuery = z.strictObject({ timeout: z.coerce.number().min(0).max(600).optional() });

export const operationView = z.object({
  id: z.string(),
  kind: z.string(),
  description: z.string(),
  status: operationStatus,
  tenant: z.string().nullable(),
  resources: z.object({ boxes: z.array(z.string()).optional(), templates: z.array(z.string()).optional() }),
  progress: z.object({ step: z.string(), percent: z.number().optional(), message: z.string().optional() }).nullable(),
  result: z.unknown(),
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional(), details: z.record(z.string(), z.unknown()) }).nullable(),
  cancellable: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export const importTemplateBody = z.strictObject({
  /** The template's name; defaults to the source when the source is a built-in (builds its cache). */
  name: templateName.optional(),
  /** A built-in name, or an absolute path: rootfs tarball, directory, OCI image layout or save archive. */
  source: z.string().min(1).max(4096),
  /** The tenant the template belongs to; left out: the host admin's, shared with every tenant. */
  owner: tenantName.optional(),
  /** Whether every tenant may see and use it (default: true without an owner, false with one). */
  shared: z.boolean().optional(),
});

export const updateTemplateBody = z.strictObject({
  owner: tenantName.nullable().optional(),
  shared: z.boolean().optional(),
});

export const templateRef = z.strictObject({ name: templateName });

export const templateView = z.object({
  name: z.string(),
  kind: z.enum(['builtin', 'imported']),
  cached: z.boolean(),
  description: z.string(),
  source: z.string().optional(),
  path: z.string().optional(),
  owner: z.string().nullable().optional(),
  shared: z.boolean().optional(),
  createdAt: z.number().optional(),
});

export const pluginRef = z.strictObject({ name: z.string().min(1).max(100) });

export const pluginView = z.object({
  name: z.string(),
  version: z.string(),
  core: z.string(),
  requires: z.record(z.string(), z.string()),
  enabled: z.boolean(),
  publishes: z.array(z.string()),
  commands: z.array(z.string()),
  /** Its actions by name; GET /actions has their routes. */
  actions: z.array(z.string()),
  description: z.string().optional(),
});

export const pluginDetailsView = pluginView.extend({ coreApi: z.string(), configSchema: z.unknown(), routes: z.array(z.string()) });

/** A plugin's action: a CLI command, a route and an SDK method (describeAction of @nsbox/core). */
export const actionInfoView = z.object({
  plugin: z.string(),
  name: z.string(),
  description: z.string(),
  box: z.boolean(),
  readOnly: z.boolean(),
  hostWide: z.boolean(),
  role,
  method: z.enum(['GET', 'POST']),
  path: z.string(),
  command: z.string(),
  operation: z.boolean(),
});

export const eventsQuery = z.strictObject({
  box: z.string().min(1).max(255).optional(),
  tenant: z.string().optional(),
  kind: z.string().min(1).optional(),
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInt(1, 10_000).optional(),
});

export const validateConfigBody = z.strictObject({ name: boxName.optional(), config: z.record(z.string(), z.unknown()) });

export const eventsPage = z.object({ events: z.array(boxEvent), lastId: z.number() });

export const healthView = z.object({ status: z.literal('ok'), version: z.string() });

export const hostInfoView = z.object({
  nsboxd: z.object({ version: z.string(), coreApi: z.string(), pid: z.number(), startedAt: z.number(), operationsRunning: z.number() }),
  kernel: z.object({ release: z.string(), version: z.string(), arch: z.string() }),
  features: z.record(z.string(), z.unknown()),
  cgroups: z.record(z.string(), z.unknown()),
  storage: z.array(
    z.looseObject({
      name: z.string(),
      path: z.string(),
      filesystem: z.string(),
      sizeBytes: z.number(),
      freeBytes: z.number(),
      plugin: z.string().optional(),
    }),
  ),
  boxes: z.record(z.string(), z.number()),
  /** Each plugin's section (the host-info contribution point). */
  plugins: z.record(z.string(), z.unknown()),
});

export const validConfigView = z.object({ valid: z.literal(true), config: boxConfigView });
