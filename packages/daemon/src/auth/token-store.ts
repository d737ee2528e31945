/**
 * API tokens: a random secret handed out once, stored as its sha256 (a leaked database does
 * not leak tokens). A token belongs to a tenant (or to the host: tenant null) and has a role.
 */

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type ApiRole, apiRoles, NsboxError } from '@nsbox/core';
import { StatementCache } from '@nsbox/store';
import type Database from 'better-sqlite3';

export interface Caller {
  tokenId: string;
  name: string;
  /** null: a host-wide token that sees every box. */
  tenant: string | null;
  role: ApiRole;
}

export interface TokenRecord {
  id: string;
  name: string;
  tenant: string | null;
  role: ApiRole;
  createdBy: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

interface TokenRow {
  id: string;
  hash: string;
  name: string;
  tenant: string | null;
  role: string;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

const TOKEN_PREFIX = 'nsbx_';
/** last_used_at is a hint, not a log: written at most this often per token. */
const LAST_USED_EVERY_MS = 60_000;

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function roleAtLeast(role: ApiRole, needed: ApiRole): boolean {
  return apiRoles.indexOf(role) >= apiRoles.indexOf(needed);
}

const toRecord = (row: TokenRow): TokenRecord => ({
  id: row.id,
  name: row.name,
  tenant: row.tenant,
  role: row.role as ApiRole,
  createdBy: row.created_by,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  lastUsedAt: row.last_used_at,
});

function unauthorized(reason: 'missing' | 'invalid' | 'expired' | 'revoked', message: string): NsboxError {
  return new NsboxError('E_UNAUTHORIZED', message, { details: { reason } });
}

export class TokenStore {
  private readonly lastUsedWritten = new Map<string, number>();

  /** Statements prepared once each (a prepare compiles the SQL): a token is looked up at every request. */
  private readonly statements: StatementCache;

  constructor(
    db: Database.Database,
    private readonly clock: () => number = Date.now,
  ) {
    this.statements = new StatementCache(db);
  }

  issue(input: { name: string; tenant: string | null; role: ApiRole; expiresAt?: number | null; createdBy?: string | null }): {
    token: string;
    record: TokenRecord;
  } {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = `tok_${randomBytes(6).toString('hex')}`;
    this.statements
      .get('INSERT INTO daemon_tokens (id, hash, name, tenant, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, hashToken(token), input.name, input.tenant, input.role, input.createdBy ?? null, this.clock(), input.expiresAt ?? null);
    return { token, record: this.get(id) as TokenRecord };
  }

  /** The caller a bearer secret stands for; E_UNAUTHORIZED (401) otherwise. */
  authenticate(secret: string | undefined): Caller {
    if (!secret) throw unauthorized('missing', 'this route needs a bearer token (Authorization: Bearer <token>)');
    const row = this.statements.get('SELECT * FROM daemon_tokens WHERE hash = ?').get(hashToken(secret)) as TokenRow | undefined;
    if (!row) throw unauthorized('invalid', 'the bearer token is not valid');
    const now = this.clock();
    if (row.revoked_at !== null) throw unauthorized('revoked', 'the bearer token was revoked');
    if (row.expires_at !== null && row.expires_at <= now) throw unauthorized('expired', 'the bearer token has expired');
    if (now - (this.lastUsedWritten.get(row.id) ?? 0) > LAST_USED_EVERY_MS) {
      this.lastUsedWritten.set(row.id, now);
      this.statements.get('UPDATE daemon_tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
    }
    return { tokenId: row.id, name: row.name, tenant: row.tenant, role: row.role as ApiRole };
  }

  get(id: string): TokenRecord | undefined {
    const row = this.statements.get('SELECT * FROM daemon_tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return row && toRecord(row);
  }

  list(filter: { tenant?: string } = {}): TokenRecord[] {
    const rows =
      filter.tenant === undefined
        ? this.statements.get('SELECT * FROM daemon_tokens ORDER BY created_at, id').all()
        : this.statements.get('SELECT * FROM daemon_tokens WHERE tenant = ? ORDER BY created_at, id').all(filter.tenant);
    return (rows as TokenRow[]).map(toRecord);
  }

  revoke(id: string): void {
    this.statements.get('UPDATE daemon_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.clock(), id);
  }

  /** A removed tenant's tokens go with it. */
  removeTenantTokens(tenant: string): void {
    this.statements.get('DELETE FROM daemon_tokens WHERE tenant = ?').run(tenant);
  }

  /**
   * The host admin's token in <state-dir>/admin.token (0600): kept while it is valid, made on
   * first start and again when the file is gone or its token was revoked.
   */
  ensureAdminToken(file: string): { token: string; created: boolean } {
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      try {
        const caller = this.authenticate(token);
        if (caller.tenant === null && caller.role === 'admin') return { token, created: false };
      } catch {
        // Stale: replaced below.
      }
    }
    const { token } = this.issue({ name: 'admin (admin.token)', tenant: null, role: 'admin', createdBy: 'nsboxd' });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { token, created: true };
  }
}
