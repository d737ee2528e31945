/** Raw HTTP over the unix socket, for requests the SDK would never send, and a store snapshot. */

import { request } from 'node:http';
import type Database from 'better-sqlite3';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export function raw(
  socketPath: string,
  method: string,
  path: string,
  options: { token?: string; body?: string | Buffer; contentType?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Everything a refused request must leave as it was: boxes, history, the core's journal,
 * tenants, tokens (but when they were last used) and API operations. The audit log is left
 * out: recording refused calls is its job.
 */
export function storeSnapshot(db: Database.Database): string {
  const tables = {
    boxes: db.prepare('SELECT * FROM boxes ORDER BY id').all(),
    events: db.prepare('SELECT * FROM events ORDER BY id').all(),
    operations: db.prepare('SELECT * FROM operations ORDER BY id').all(),
    tenants: db.prepare('SELECT * FROM daemon_tenants ORDER BY name').all(),
    tokens: db.prepare('SELECT id, hash, name, tenant, role, created_at, expires_at, revoked_at FROM daemon_tokens ORDER BY id').all(),
    apiOperations: db.prepare('SELECT * FROM daemon_operations ORDER BY id').all(),
    templates: db.prepare('SELECT * FROM daemon_templates ORDER BY name').all(),
  };
  return JSON.stringify(tables);
}
