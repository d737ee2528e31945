/**
 * The tenant policy at nsboxd's doors: before a tenant's token creates, changes, starts or
 * restarts a box (through /boxes or a plugin's route), the config is judged field by field
 * against what the core and the plugins declare tenant-safe plus the tenant's grants. A
 * refusal is 403 E_FORBIDDEN naming every refused field, thrown before anything is written.
 * Host-wide tokens are the host admin's: they are not judged.
 */

import { type AnyPlugin, NsboxError, tenantPolicyRefusals } from '@nsbox/core';
import type { Caller } from '../auth/token-store.js';
import { grantsFor } from './tenant-grants.js';
import type { TenantStore } from './tenant-store.js';

export class PolicyGuard {
  constructor(
    private readonly tenants: TenantStore,
    private readonly plugins: () => readonly AnyPlugin[],
    /** The plugins' sections as their schemas fill empty ones (core's sectionDefaults). */
    private readonly defaults: Record<string, unknown> = {},
  ) {}

  /**
   * Throws when a tenant caller may not give a box `config` (validated; template by name).
   * With `previous`, only what differs from it is judged (a change leaves the rest as it was).
   */
  check(caller: Caller | undefined, config: Record<string, unknown>, options: { previous?: Record<string, unknown>; prefix?: string } = {}): void {
    if (!caller || caller.tenant === null) return;
    const tenant = this.tenants.find(caller.tenant);
    const grants = tenant ? grantsFor(tenant.policy, caller.role) : [];
    const refusals = tenantPolicyRefusals({ config, previous: options.previous, defaults: this.defaults, grants, plugins: this.plugins() });
    if (refusals.length === 0) return;
    const prefix = options.prefix ?? 'config';
    const issues = refusals.map((refusal) => ({ path: `${prefix}.${refusal.path}`, message: refusal.reason }));
    const summary = issues.map((issue) => `${issue.path} (${issue.message})`).join('; ');
    throw new NsboxError('E_FORBIDDEN', `the tenant policy of '${caller.tenant}' does not allow: ${summary}`, {
      details: { field: issues[0]?.path, fields: issues.map((issue) => issue.path), issues, tenant: caller.tenant },
    });
  }
}
