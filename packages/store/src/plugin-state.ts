/** The PluginStateStore of core, in the host's SQLite database (table plugin_state). */

import type { PluginStateStore } from '@nsbox/core';
import type Database from 'better-sqlite3';

export class SqlitePluginState implements PluginStateStore {
  constructor(private readonly db: Database.Database) {}

  get(namespace: string, key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM plugin_state WHERE namespace = ? AND key = ?').get(namespace, key) as { value: string } | undefined)?.value;
  }

  set(namespace: string, key: string, value: string): void {
    this.db
      .prepare('INSERT INTO plugin_state (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value')
      .run(namespace, key, value);
  }

  claim(namespace: string, key: string, value: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO plugin_state (namespace, key, value) VALUES (?, ?, ?)').run(namespace, key, value).changes === 1;
  }

  delete(namespace: string, key: string): void {
    this.db.prepare('DELETE FROM plugin_state WHERE namespace = ? AND key = ?').run(namespace, key);
  }

  list(namespace: string, prefix?: string): { key: string; value: string }[] {
    if (!prefix) {
      return this.db.prepare('SELECT key, value FROM plugin_state WHERE namespace = ? ORDER BY key').all(namespace) as { key: string; value: string }[];
    }
    // GLOB with a literal prefix is a range on the primary key (namespace, key) for SQLite,
    // which bounds it by bytes; its wildcard characters are matched as themselves.
    const pattern = `${prefix.replace(/[*?[]/g, (char) => `[${char}]`)}*`;
    return this.db.prepare('SELECT key, value FROM plugin_state WHERE namespace = ? AND key GLOB ? ORDER BY key').all(namespace, pattern) as {
      key: string;
      value: string;
    }[];
  }
}
