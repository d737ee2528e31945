/** The PluginStateStore of core, in the host's SQLite database (table plugin_state). */

import type { PluginStateStore } from '@nsbox/core';
import type Database from 'better-sqlite3';
import { StatementCache } from './statements.js';

export class SqlitePluginState implements PluginStateStore {
  private readonly statements: StatementCache;

  constructor(db: Database.Database) {
    this.statements = new StatementCache(db);
  }

  get(namespace: string, key: string): string | undefined {
    return (this.statements.get('SELECT value FROM plugin_state WHERE namespace = ? AND key = ?').get(namespace, key) as { value: string } | undefined)?.value;
  }

  set(namespace: string, key: string, value: string): void {
    this.statements
      .get('INSERT INTO plugin_state (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value')
      .run(namespace, key, value);
  }

  claim(namespace: string, key: string, value: string): boolean {
    return this.statements.get('INSERT OR IGNORE INTO plugin_state (namespace, key, value) VALUES (?, ?, ?)').run(namespace, key, value).changes === 1;
  }

  delete(namespace: string, key: string): void {
    this.statements.get('DELETE FROM plugin_state WHERE namespace = ? AND key = ?').run(namespace, key);
  }

  list(namespace: string, prefix?: string): { key: string; value: string }[] {
    if (!prefix) {
      return this.statements.get('SELECT key, value FROM plugin_state WHERE namespace = ? ORDER BY key').all(namespace) as { key: string; value: string }[];
    }
    // GLOB with a literal prefix is a range on the primary key (namespace, key) for SQLite,
    // which bounds it by bytes; its wildcard characters are matched as themselves.
    const pattern = `${prefix.replace(/[*?[]/g, (char) => `[${char}]`)}*`;
    return this.statements.get('SELECT key, value FROM plugin_state WHERE namespace = ? AND key GLOB ? ORDER BY key').all(namespace, pattern) as {
      key: string;
      value: string;
    }[];
  }
}
