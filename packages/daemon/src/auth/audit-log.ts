/** Every mutating call, with who made it (token id and name, tenant, role) and how it ended. */

import { StatementCache } from '@nsbox/store';
import type Database from 'better-sqlite3';
import type { Caller } from './token-store.js';

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

interface AuditRow {
  id: number;
  time: number;
  token_id: string | null;
  token_name: string | null;
  tenant: string | null;
  role: string | null;
  method: string;
  url: string;
  route: string | null;
  box: string | null;
  status: number;
  code: string | null;
  duration_ms: number;
}

const toEntry = (row: AuditRow): AuditEntry => ({
  id: row.id,
  time: row.time,
  tokenId: row.token_id,
  tokenName: row.token_name,
  tenant: row.tenant,
  role: row.role,
  method: row.method,
  url: row.url,
  route: row.route,
  box: row.box,
  status: row.status,
  code: row.code,
  durationMs: row.duration_ms,
});

export interface AuditRecord {
  caller: Caller | undefined;
  method: string;
  url: string;
  route: string | undefined;
  box: string | undefined;
  status: number;
  code: string | undefined;
  durationMs: number;
}

/** Query parameters that carry values a log must not keep: the exec environment (KEY=VALUE). */
const SECRET_QUERY_VALUES = new Set(['env']);

/**
 * The URL as the log keeps it: an exec's `env=KEY=VALUE` keeps its KEY only (environments carry
 * passwords and API keys; who set which variable is what an audit needs).
 */
export function auditedUrl(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const query = new URLSearchParams(url.slice(question + 1));
  if (![...query.keys()].some((key) => SECRET_QUERY_VALUES.has(key))) return url;
  const kept = new URLSearchParams();
  for (const [key, value] of query) {
    kept.append(key, SECRET_QUERY_VALUES.has(key) ? `${value.split('=')[0]}=<redacted>` : value);
  }
  return `${url.slice(0, question)}?${kept.toString()}`;
}

export class AuditLog {
  /** Statements prepared once each (a prepare compiles the SQL): every mutating call writes an entry. */
  private readonly statements: StatementCache;

  constructor(
    db: Database.Database,
    private readonly clock: () => number = Date.now,
  ) {
    this.statements = new StatementCache(db);
  }

  record(entry: AuditRecord): void {
    this.statements
      .get(
        'INSERT INTO daemon_audit (time, token_id, token_name, tenant, role, method, url, route, box, status, code, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        this.clock(),
        entry.caller?.tokenId ?? null,
        entry.caller?.name ?? null,
        entry.caller?.tenant ?? null,
        entry.caller?.role ?? null,
        entry.method,
        auditedUrl(entry.url).slice(0, 2048),
        entry.route ?? null,
        entry.box ?? null,
        entry.status,
        entry.code ?? null,
        Math.round(entry.durationMs),
      );
  }

  /** Redacts the exec environments that entries written before auditedUrl existed still hold. */
  redactStoredEnvironments(): number {
    const rows = this.statements.get("SELECT id, url FROM daemon_audit WHERE url LIKE '%env=%'").all() as { id: number; url: string }[];
    const update = this.statements.get('UPDATE daemon_audit SET url = ? WHERE id = ?');
    let changed = 0;
    for (const row of rows) {
      const redacted = auditedUrl(row.url);
      if (redacted === row.url) continue;
      update.run(redacted, row.id);
      changed += 1;
    }
    return changed;
  }

  list(filter: { tenant?: string; tokenId?: string; after?: number; limit?: number }): AuditEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.tenant !== undefined) {
      where.push('tenant = ?');
      params.push(filter.tenant);
    }
    if (filter.tokenId !== undefined) {
      where.push('token_id = ?');
      params.push(filter.tokenId);
    }
    if (filter.after !== undefined) {
      where.push('id > ?');
      params.push(filter.after);
    }
    const sql = `SELECT * FROM daemon_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return (this.statements.get(sql).all(...params, filter.limit ?? 1000) as AuditRow[]).map(toEntry);
  }
}
