/**
 * Per-tenant quotas (boxes, total memory, total disk), enforced on create and update. A
 * create reserves its name and its resources synchronously before any await, so concurrent
 * requests cannot both squeeze under the same quota, nor both take the same name.
 */

import type { Box, BoxConfig } from '@nsbox/core';
import { fieldError } from '../http/api-error.js';
import type { BoxResources } from './box-resources.js';
import type { Quotas, TenantStore } from './tenant-store.js';

export interface Usage {
  boxes: number;
  memory: number;
  disk: number;
}

interface Reservation extends BoxResources {
  tenant: string | null;
}

export class QuotaGuard {
  /** Boxes being created, by name: not all of them are in the store yet. */
  private readonly reservations = new Map<string, Reservation>();

  constructor(
    private readonly tenants: TenantStore,
    private readonly boxes: (owner: string) => Box[],
    private readonly nameTaken: (name: string) => boolean,
    /** What a config claims (from the plugins' quota-claim contributions). */
    private readonly boxResources: (config: BoxConfig) => BoxResources,
  ) {}

  usage(tenant: string, except?: string): Usage {
    const claims = new Map<string, BoxResources>();
    for (const box of this.boxes(tenant)) claims.set(box.name, this.boxResources(box.config));
    for (const [name, reservation] of this.reservations) if (reservation.tenant === tenant) claims.set(name, reservation);
    if (except) claims.delete(except);
    const usage: Usage = { boxes: 0, memory: 0, disk: 0 };
    for (const claim of claims.values()) {
      usage.boxes += 1;
      usage.memory += claim.memory ?? 0;
      usage.disk += claim.disk ?? 0;
    }
    return usage;
  }

  /** Takes the name and the tenant's share for a box being created; call the result to let go. */
  reserve(tenant: string | null, name: string, config: BoxConfig): () => void {
    if (this.reservations.has(name) || this.nameTaken(name)) {
      throw fieldError('E_ALREADY_EXISTS', 'name', `a box named '${name}' already exists`, { box: name });
    }
    const claim = this.boxResources(config);
    if (tenant !== null) this.check(tenant, claim, this.usage(tenant), 1);
    const reservation = { tenant, ...claim };
    this.reservations.set(name, reservation);
    return () => {
      if (this.reservations.get(name) === reservation) this.reservations.delete(name);
    };
  }

  /** A config change of an existing box must still fit: its old claim is replaced by the new one. */
  checkUpdate(box: Box, next: BoxConfig): void {
    if (box.owner === null || !this.tenants.find(box.owner)) return;
    this.check(box.owner, this.boxResources(next), this.usage(box.owner, box.name), 0);
  }

  private check(tenant: string, claim: BoxResources, used: Usage, newBoxes: number): void {
    const quotas: Quotas = this.tenants.find(tenant)?.quotas ?? {};
    if (quotas.boxes !== undefined && used.boxes + newBoxes > quotas.boxes) {
      throw quotaError(tenant, 'boxes', 'name', `tenant '${tenant}' may have ${quotas.boxes} boxes and has ${used.boxes}`, quotas.boxes, used.boxes, newBoxes);
    }
    for (const resource of ['memory', 'disk'] as const) {
      const limit = quotas[resource];
      if (limit === undefined) continue;
      const field = `config.limits.${resource}`;
      const wanted = claim[resource];
      if (wanted === null) {
        throw quotaError(
          tenant,
          resource,
          field,
          `tenant '${tenant}' has a ${resource} quota: the box must set limits.${resource}`,
          limit,
          used[resource],
          null,
        );
      }
      if (used[resource] + wanted > limit) {
        throw quotaError(
          tenant,
          resource,
          field,
          `tenant '${tenant}' may use ${limit} bytes of ${resource} in all; ${used[resource]} are in use and the box asks for ${wanted}`,
          limit,
          used[resource],
          wanted,
        );
      }
    }
  }
}

function quotaError(tenant: string, quota: string, field: string, message: string, limit: number, used: number, requested: number | null) {
  return fieldError('E_QUOTA_EXCEEDED', field, message, { tenant, quota, limit, used, requested });
}
