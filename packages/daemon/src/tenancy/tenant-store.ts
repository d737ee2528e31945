/** Tenants: the customers of a hosting panel. A box's `owner` is its tenant's name. */

import { NsboxError } from '@nsbox/core';
import { StatementCache } from '@nsbox/store';
import type Database from 'better-sqlite3';
import { emptyTenantPolicy, type TenantPolicy } from './tenant-grants.js';

export interface Quotas {
  /** Number of boxes. */
  boxes?: number;
  /** Total memory limit of the tenant's boxes, in bytes. */
  memory?: number;
  /** Total disk limit of the tenant's boxes, in bytes. */
  disk?: number;
}

export interface Tenant {
  name: string;
  description: string;
  quotas: Quotas;
  /** What the admin grants beyond the tenant-safe baseline. */
  policy: TenantPolicy;
  createdAt: number;
  updatedAt: number;
}

interface TenantRow {
  name: string;
  description: string;
  quotas: string;
  policy: string;
  created_at: number;
  updated_at: number;
}

const toTenant = (row: TenantRow): Tenant => ({
  name: row.name,
  description: row.description,
  quotas: JSON.parse(row.quotas) as Quotas,
  policy: { ...emptyTenantPolicy(), ...(JSON.parse(row.policy) as Partial<TenantPolicy>) },
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export class TenantStore {
  /** Statements prepared once each (a prepare compiles the SQL): tenants are read at every quota check. */
  private readonly statements: StatementCache;

  constructor(
    db: Database.Database,
    private readonly clock: () => number = Date.now,
  ) {
    this.statements = new StatementCache(db);
  }

  create(input: { name: string; description?: string; quotas?: Quotas; policy?: TenantPolicy }): Tenant {
    if (this.find(input.name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a tenant named '${input.name}' already exists`, { details: { field: 'name', tenant: input.name } });
    }
    const now = this.clock();
    this.statements
      .get('INSERT INTO daemon_tenants (name, description, quotas, policy, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(input.name, input.description ?? '', JSON.stringify(input.quotas ?? {}), JSON.stringify(input.policy ?? emptyTenantPolicy()), now, now);
    return this.get(input.name);
  }

  find(name: string): Tenant | undefined {
    const row = this.statements.get('SELECT * FROM daemon_tenants WHERE name = ?').get(name) as TenantRow | undefined;
    return row && toTenant(row);
  }

  get(name: string): Tenant {
    const tenant = this.find(name);
    if (!tenant) throw new NsboxError('E_NOT_FOUND', `no tenant named '${name}'`, { details: { tenant: name } });
    return tenant;
  }

  list(): Tenant[] {
    return (this.statements.get('SELECT * FROM daemon_tenants ORDER BY name').all() as TenantRow[]).map(toTenant);
  }

  update(name: string, changes: { description?: string; quotas?: Quotas; policy?: TenantPolicy }): Tenant {
    const tenant = this.get(name);
    const quotas = changes.quotas ?? tenant.quotas;
    const policy = changes.policy ?? tenant.policy;
    this.statements
      .get('UPDATE daemon_tenants SET description = ?, quotas = ?, policy = ?, updated_at = ? WHERE name = ?')
      .run(changes.description ?? tenant.description, JSON.stringify(quotas), JSON.stringify(policy), this.clock(), name);
    return this.get(name);
  }

  remove(name: string): void {
    this.statements.get('DELETE FROM daemon_tenants WHERE name = ?').run(name);
  }
}
