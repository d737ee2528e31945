/** Opens a SQLite file the way every nsbox database is used: WAL, several processes at once. */

import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

/**
 * better-sqlite3 (CommonJS and a native addon, ~10 ms to load) is required when a process
 * first opens a database, not when it imports the store: a CLI command that nsboxd serves
 * imports the host to find the plugins and never opens one.
 */
let sqlite: typeof Database | undefined;

export function openSharedDatabase(path: string): Database.Database {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  const db = new sqlite(path);
  // First, so that every statement after it — the switch to WAL included — waits for a lock
  // another process holds (a CLI and nsboxd opening a new state directory at once) instead of
  // failing with SQLITE_BUSY.
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}
