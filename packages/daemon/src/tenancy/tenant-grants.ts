/**
 * What the host admin grants a tenant beyond the tenant-safe baseline, stored with the tenant:
 * grants for all its tokens, and more per role (a role's grants also reach the stronger roles).
 * A grant is a field path (`isolation.mounts`: that field and everything below it) or a cap
 * (`limits.rlimits.nofile <= 4096`: the value at most 4096).
 */

import { type ApiRole, apiRoles, parseFieldPattern, type TenantGrant } from '@nsbox/core';

export interface TenantPolicy {
  /** For every token of the tenant. */
  grants: string[];
  /** For tokens of this role and the stronger ones. */
  roles: Partial<Record<ApiRole, string[]>>;
}

export const emptyTenantPolicy = (): TenantPolicy => ({ grants: [], roles: {} });

const CAP = /^(.+?)\s*<=\s*(\d+(?:\.\d+)?)$/;

/** Parses one grant; throws an Error that says what is wrong with it. */
export function parseGrant(text: string): TenantGrant {
  const cap = CAP.exec(text.trim());
  const path = (cap ? (cap[1] as string) : text).trim();
  parseFieldPattern(path);
  return cap ? { path, max: Number(cap[2]) } : { path };
}

/** The grants a token of `role` of a tenant with `policy` holds. */
export function grantsFor(policy: TenantPolicy, role: ApiRole): TenantGrant[] {
  const texts = [...policy.grants];
  for (const candidate of apiRoles.slice(0, apiRoles.indexOf(role) + 1)) texts.push(...(policy.roles[candidate] ?? []));
  return texts.map(parseGrant);
}
