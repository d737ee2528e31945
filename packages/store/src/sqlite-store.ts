/**
 * The SQLite store: boxes, history and the operation journal in one WAL database, safe to
 * share between the CLI, the daemon and the OCI CLI (each write is one short transaction;
 * busy_timeout makes concurrent writers wait instead of failing).
 */

import { join } from 'node:path';
import type {
  Box,
  BoxEvent,
  BoxListFilter,
  BoxRepository,
  HistoryQuery,
  HistoryRepository,
  OperationJournal,
  OperationRecord,
  OperationStatus,
} from '@nsbox/core';
import { isProcessAlive, NsboxError } from '@nsbox/core';
import type Database from 'better-sqlite3';
import { migrate, migrateNamespace } from './migrations.js';
import { openSharedDatabase } from './open-database.js';
import { SqlitePluginState } from './plugin-state.js';
import { joinRuntime, splitRuntime } from './runtime-columns.js';
import { ensureStateDir } from './state-dir.js';
import { StatementCache } from './statements.js';

interface BoxRow {
  id: string;
  name: string;
  owner: string | null;
  config: string;
  state: string;
  runtime: string;
  /** The OCI spec's text, from box_specs (runtime-columns.ts), in a box read alone; a listed row has `has_spec`. */
  spec?: string | null;
  has_spec?: number;
  created_at: number;
  updated_at: number;
}

interface EventRow {
  id: number;
  box_id: string;
  kind: string;
  source: string;
  time: number;
  data: string;
}

interface OperationRow {
  id: number;
  box_id: string;
  kind: string;
  from_state: string;
  status: string;
  pid: number;
  done_steps: string;
  began_step: string | null;
  started_at: number;
  finished_at: number | null;
  error: string | null;
}

/**
 * A box of its row. Its config and runtime facts are parsed at their first read, and the spec
 * in the runtime facts (most of a row) at its own first read: a listing of a thousand boxes
 * (`/metrics`, `stats --all`, GET /boxes) reads the names and states of all and the spec of few.
 * They are plain enumerable properties to every reader (spread, JSON, deep equality) and may be
 * assigned. `readSpec` gives the spec's text: the row's, or a read of it for a listed row.
 */
function toBox(row: BoxRow, readSpec: (() => string | null) | null): Box {
  let config: Box['config'] | undefined;
  let runtime: Box['runtime'] | undefined;
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    get config(): Box['config'] {
      config ??= JSON.parse(row.config) as Box['config'];
      return config;
    },
    set config(value: Box['config']) {
      config = value;
    },
    state: row.state as Box['state'],
    get runtime(): Box['runtime'] {
      runtime ??= joinRuntime(row.runtime, readSpec);
      return runtime;
    },
    set runtime(value: Box['runtime']) {
      runtime = value;
    },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** What a listing reads: the box's row, and whether it has a spec (not the spec). */
const LISTED_COLUMNS = 'boxes.*, EXISTS (SELECT 1 FROM box_specs WHERE box_specs.box_id = boxes.id) AS has_spec';

const toEvent = (row: EventRow): BoxEvent => ({
  id: row.id,
  boxId: row.box_id,
  kind: row.kind,
  source: row.source,
  time: row.time,
  data: JSON.parse(row.data),
});

const toOperation = (row: OperationRow): OperationRecord => ({
  id: row.id,
  boxId: row.box_id,
  kind: row.kind as OperationRecord['kind'],
  fromState: row.from_state as OperationRecord['fromState'],
  status: row.status as OperationStatus,
  pid: row.pid,
  doneSteps: JSON.parse(row.done_steps),
  begunStep: row.began_step,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  error: row.error,
});

export interface SqliteStoreOptions {
  stateDir: string;
  clock?: () => number;
  /** Whether a process is alive; decides whether another process's operation is live. */
  processAlive?: (pid: number) => boolean;
}

export class SqliteStore implements BoxRepository, HistoryRepository, OperationJournal {
  readonly db: Database.Database;
  readonly path: string;
  /** Plugins' small persistent state, in the same database. */
  readonly pluginState: SqlitePluginState;
  private readonly clock: () => number;
  private readonly statements: StatementCache;
  private readonly processAlive: (pid: number) => boolean;

  constructor(options: SqliteStoreOptions) {
    this.path = join(ensureStateDir(options.stateDir), 'nsbox.db');
    this.clock = options.clock ?? Date.now;
    this.processAlive = options.processAlive ?? isProcessAlive;
    try {
      this.db = openSharedDatabase(this.path);
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      this.statements = new StatementCache(this.db);
      this.pluginState = new SqlitePluginState(this.db);
    } catch (error) {
      throw new NsboxError('E_STORE', `cannot open the state database ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // Boxes

  insert(box: Box): void {
    const runtime = splitRuntime(box.runtime);
    this.db.transaction(() => {
      this.statements
        .get('INSERT INTO boxes (id, name, owner, config, state, runtime, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(box.id, box.name, box.owner, JSON.stringify(box.config), box.state, runtime.runtime, box.createdAt, box.updatedAt);
      this.writeSpec(box.id, runtime.spec ?? null);
    })();
  }

  update(box: Box): void {
    const runtime = splitRuntime(box.runtime);
    this.db.transaction(() => {
      const result = this.statements
        .get('UPDATE boxes SET name = ?, owner = ?, config = ?, state = ?, runtime = ?, updated_at = ? WHERE id = ?')
        .run(box.name, box.owner, JSON.stringify(box.config), box.state, runtime.runtime, box.updatedAt, box.id);
      if (result.changes === 0) throw new NsboxError('E_NOT_FOUND', `box '${box.name}' is not in the store`, { details: { box: box.name } });
      if (runtime.spec !== undefined) this.writeSpec(box.id, runtime.spec);
    })();
  }

  /** A box's spec in box_specs: replaced, or removed (null). */
  private writeSpec(id: string, spec: string | null): void {
    if (spec === null) this.statements.get('DELETE FROM box_specs WHERE box_id = ?').run(id);
    else this.statements.get('INSERT INTO box_specs (box_id, spec) VALUES (?, ?) ON CONFLICT(box_id) DO UPDATE SET spec = excluded.spec').run(id, spec);
  }

  find(idOrName: string): Box | undefined {
    const row = this.statements
      .get('SELECT boxes.*, box_specs.spec FROM boxes LEFT JOIN box_specs ON box_specs.box_id = boxes.id WHERE boxes.id = ? OR boxes.name = ?')
      .get(idOrName, idOrName) as BoxRow | undefined;
    if (!row) return undefined;
    const spec = row.spec ?? null;
    return toBox(row, spec === null ? null : () => spec);
  }

  /** The spec's text of a listed box, read when someone first reads its `runtime.spec`. */
  private readSpec(id: string): string | null {
    return (this.statements.get('SELECT spec FROM box_specs WHERE box_id = ?').get(id) as { spec: string } | undefined)?.spec ?? null;
  }

  list(filter: BoxListFilter = {}): Box[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.owner !== undefined) {
      where.push('owner = ?');
      params.push(filter.owner);
    }
    if (filter.state !== undefined) {
      where.push('state = ?');
      params.push(filter.state);
    }
    const sql = `SELECT ${LISTED_COLUMNS} FROM boxes ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name`;
    return (this.statements.get(sql).all(...params) as BoxRow[]).map((row) => toBox(row, row.has_spec ? () => this.readSpec(row.id) : null));
  }

  remove(id: string): void {
    this.db.transaction(() => {
      this.statements.get('DELETE FROM boxes WHERE id = ?').run(id);
      this.writeSpec(id, null);
    })();
  }

  // History

  append(event: Omit<BoxEvent, 'id'>): BoxEvent {
    const result = this.statements
      .get('INSERT INTO events (box_id, kind, source, time, data) VALUES (?, ?, ?, ?, ?)')
      .run(event.boxId, event.kind, event.source, event.time, JSON.stringify(event.data));
    return { ...event, id: Number(result.lastInsertRowid) };
  }

  query(query: HistoryQuery): BoxEvent[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.boxId) {
      where.push('box_id = ?');
      params.push(query.boxId);
    }
    if (query.kind) {
      where.push('(kind = ? OR kind LIKE ?)');
      params.push(query.kind, `${query.kind}.%`);
    }
    if (query.since !== undefined) {
      where.push('time >= ?');
      params.push(query.since);
    }
    if (query.until !== undefined) {
      where.push('time <= ?');
      params.push(query.until);
    }
    if (query.afterId !== undefined) {
      where.push('id > ?');
      params.push(query.afterId);
    }
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return (this.statements.get(sql).all(...params, query.limit ?? 1000) as EventRow[]).map(toEvent);
  }

  // Operation journal

  begin(op: { boxId: string; kind: OperationRecord['kind']; fromState: OperationRecord['fromState']; pid: number }): OperationRecord {
    const started = this.db.transaction(() => {
      const open = this.statements.get("SELECT * FROM operations WHERE box_id = ? AND status = 'running'").all(op.boxId) as OperationRow[];
      const live = open.find((row) => this.processAlive(row.pid));
      if (live) {
        throw new NsboxError('E_BUSY', `box is busy: a ${live.kind} operation is running in process ${live.pid}`, {
          details: { operation: live.kind, pid: live.pid },
        });
      }
      const result = this.statements
        .get("INSERT INTO operations (box_id, kind, from_state, status, pid, started_at) VALUES (?, ?, ?, 'running', ?, ?)")
        .run(op.boxId, op.kind, op.fromState, op.pid, this.clock());
      return this.statements.get('SELECT * FROM operations WHERE id = ?').get(result.lastInsertRowid) as OperationRow;
    });
    return toOperation(started.immediate());
  }

  stepBegun(opId: number, stepId: string): void {
    this.statements.get('UPDATE operations SET began_step = ? WHERE id = ?').run(stepId, opId);
  }

  stepDone(opId: number, stepId: string): void {
    this.statements.get("UPDATE operations SET done_steps = json_insert(done_steps, '$[#]', ?) WHERE id = ?").run(stepId, opId);
  }

  finish(opId: number, status: Exclude<OperationStatus, 'running'>, error?: string): void {
    this.statements.get('UPDATE operations SET status = ?, finished_at = ?, error = ? WHERE id = ?').run(status, this.clock(), error ?? null, opId);
  }

  unfinished(): OperationRecord[] {
    return (this.statements.get("SELECT * FROM operations WHERE status = 'running' ORDER BY id").all() as OperationRow[]).map(toOperation);
  }

  operation(id: number): OperationRecord | undefined {
    const row = this.statements.get('SELECT * FROM operations WHERE id = ?').get(id) as OperationRow | undefined;
    return row && toOperation(row);
  }

  /** Tables of a face or plugin, migrated under their own namespace (see migrateNamespace). */
  migrateNamespace(namespace: string, steps: readonly string[]): number {
    return migrateNamespace(this.db, namespace, steps);
  }

  // Settings

  getSetting(key: string): string | undefined {
    return (this.statements.get('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setSetting(key: string, value: string): void {
    this.statements.get('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
