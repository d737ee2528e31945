/**
 * Schema migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records how far a database has come. Append new migrations; never edit a shipped one.
 */

import type Database from 'better-sqlite3';

export const migrations: readonly string[] = [
  `CREATE TABLE boxes (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     owner TEXT,
     config TEXT NOT NULL,
     state TEXT NOT NULL,
     runtime TEXT NOT NULL DEFAULT '{}',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX boxes_owner ON boxes(owner);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     box_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     source TEXT NOT NULL,
     time INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX events_box_time ON events(box_id, time);
   CREATE INDEX events_kind ON events(kind);
   CREATE TABLE operations (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     box_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     from_state TEXT NOT NULL,
     status TEXT NOT NULL,
     pid INTEGER NOT NULL,
     done_steps TEXT NOT NULL DEFAULT '[]',
     started_at INTEGER NOT NULL,
     finished_at INTEGER,
     error TEXT
   );
   CREATE INDEX operations_open ON operations(status);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  `CREATE TABLE plugin_state (
     namespace TEXT NOT NULL,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (namespace, key)
   );
   CREATE TABLE schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL);`,
  // The step an operation began last: a process killed inside it leaves it to be undone too.
  'ALTER TABLE operations ADD COLUMN began_step TEXT;',
  // A box's OCI spec (tens of kilobytes with a seccomp profile) in a table of its own, out of
  // the rows every listing scans and the runtime facts it parses (runtime-columns.ts).
  `CREATE TABLE box_specs (box_id TEXT PRIMARY KEY, spec TEXT NOT NULL);
   INSERT INTO box_specs (box_id, spec) SELECT id, json_extract(runtime, '$.spec') FROM boxes WHERE json_type(runtime, '$.spec') = 'object';
   UPDATE boxes SET runtime = json_remove(runtime, '$.spec') WHERE json_type(runtime, '$.spec') = 'object';`,
];

/**
 * Tables of a face or plugin (the daemon's tenants, ...) migrate on their own, under a
 * namespace, so that packages released separately never edit the list above.
 */
export function migrateNamespace(db: Database.Database, namespace: string, steps: readonly string[]): number {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT version FROM schema_versions WHERE namespace = ?').get(namespace) as { version: number } | undefined;
      const current = row?.version ?? 0;
      if (current > steps.length) throw new Error(`tables of '${namespace}' are at schema ${current}, newer than this code (${steps.length})`);
      for (let version = current; version < steps.length; version++) db.exec(steps[version] as string);
      db.prepare('INSERT INTO schema_versions (namespace, version) VALUES (?, ?) ON CONFLICT(namespace) DO UPDATE SET version = excluded.version').run(
        namespace,
        steps.length,
      );
      return steps.length;
    })
    .immediate();
}

export function migrate(db: Database.Database): number {
  // The version is read inside the write lock: two processes opening a new state directory at
  // once (a `run` and a `list`) would otherwise both see 0 and both create the tables.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(`state database schema ${current} is newer than this nsbox (${migrations.length}); upgrade nsbox`);
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  return migrations.length;
}
