/**
 * Plugins' own SQLite databases (core's PluginDatabases): one file per plugin in its data dir,
 * `<state-dir>/plugins/<plugin>/<plugin>.db`, in WAL mode so the agent writes while a CLI
 * reads. A separate file keeps a plugin's volume (time series) out of the box database and
 * its size measurable on its own.
 */

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsboxError, type PluginDatabase, type PluginDatabases, type SqlValue } from '@nsbox/core';
import type Database from 'better-sqlite3';
import { migrateNamespace } from './migrations.js';
import { openSharedDatabase } from './open-database.js';

const PLUGIN_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Prepared statements kept per database: plugins run the same few statements over and over. */
const STATEMENT_CACHE = 64;

class SqlitePluginDatabase implements PluginDatabase {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /** The statement for `sql`, prepared once (tracking's sampler upserts every box each round). */
  private prepare(sql: string): Database.Statement {
    const known = this.statements.get(sql);
    if (known) return known;
    const statement = this.db.prepare(sql);
    if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value as string);
    this.statements.set(sql, statement);
    return statement;
  }

  run(sql: string, ...params: SqlValue[]): { changes: number } {
    return { changes: this.prepare(sql).run(...params).changes };
  }

  get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.prepare(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.prepare(sql).all(...params) as T[];
  }

  transaction<T>(body: () => T): T {
    return this.db.transaction(body).immediate();
  }

  sizeBytes(): number {
    const size = (file: string) => {
      try {
        return statSync(file).size;
      } catch {
        return 0;
      }
    };
    return size(this.path) + size(`${this.path}-wal`);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export class SqlitePluginDatabases implements PluginDatabases {
  private readonly opened = new Map<string, SqlitePluginDatabase>();

  /** `dataRoot`: where the plugins' data dirs are (`<state-dir>/plugins`). */
  constructor(private readonly dataRoot: string) {}

  open(plugin: string, migrations: readonly string[]): PluginDatabase {
    const known = this.opened.get(plugin);
    if (known) return known;
    const path = this.pathOf(plugin);
    const dir = dirname(path);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const db = openSharedDatabase(path);
      db.exec('CREATE TABLE IF NOT EXISTS schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)');
      migrateNamespace(db, plugin, migrations);
      const opened = new SqlitePluginDatabase(path, db);
      this.opened.set(plugin, opened);
      return opened;
    } catch (error) {
      throw new NsboxError('E_STORE', `cannot open the database of plugin '${plugin}' (${path}): ${(error as Error).message}`, {
        details: { plugin, path },
        cause: error,
      });
    }
  }

  exists(plugin: string): boolean {
    return this.opened.has(plugin) || existsSync(this.pathOf(plugin));
  }

  /** `<data root>/<plugin>/<plugin>.db`, for a plugin of a valid name. */
  private pathOf(plugin: string): string {
    if (!PLUGIN_NAME.test(plugin)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `invalid plugin name '${plugin}' for a plugin database`, { details: { field: 'plugin', plugin } });
    }
    return join(this.dataRoot, plugin, `${plugin}.db`);
  }

  close(): void {
    for (const db of this.opened.values()) db.close();
    this.opened.clear();
  }
}
