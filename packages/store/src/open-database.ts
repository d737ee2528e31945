/** Opens a SQLite file the way every nsbox database is used: WAL, several processes at once. */

import Database from 'better-sqlite3';

export function openSharedDatabase(path: string): Database.Database {
  const db = new Database(path);
  // First, so that every statement after it — the switch to WAL included — waits for a lock
  // another process holds (a CLI and nsboxd opening a new state directory at once) instead of
  // failing with SQLITE_BUSY.
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}
