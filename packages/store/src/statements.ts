/**
 * Prepared statements of one database, made once per SQL text. better-sqlite3 compiles a
 * statement at each `prepare`: the store runs a few dozen of them for every box start, and
 * preparing them again each time was most of the store's share of a start.
 */

import type Database from 'better-sqlite3';

export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
