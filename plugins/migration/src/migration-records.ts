/**
 * The durable record of each migration on both hosts, in the plugin's own database: what the
 * source has done (its phase) and what the target holds (its incoming box, committed or not).
 * A phase is written before its work starts, so that an nsboxd killed at any point leaves a
 * record that says which side owns the box (migration-reconcile.ts):
 *
 * - source `preflight`, `dump`, `transfer`, `restore`, `aborting`: the source owns it — the
 *   target's copy, if any, is removed (acknowledged) and the box runs here again;
 * - source `commit`, `destroy`: the decision was made for the target — once the target
 *   confirms it runs the box there, the copy here goes; if the target answers that it dropped
 *   it (it crashed before the commit reached it), the box runs here again.
 * - target `importing`, `restored`: not yet the target's — aborted by the source, or by the
 *   target's own reconcile when the process that imported it died (presumed abort);
 *   `committed`: the target's.
 */

import { readFileSync } from 'node:fs';
import type { PluginDatabase, PluginDatabases } from '@nsbox/core';

export const migrationDbMigrations: readonly string[] = [
  `CREATE TABLE outgoing (
     upload TEXT PRIMARY KEY,
     box_id TEXT NOT NULL,
     box_name TEXT NOT NULL,
     target TEXT NOT NULL,
     token TEXT NOT NULL,
     mode TEXT NOT NULL,
     phase TEXT NOT NULL,
     image_dir TEXT,
     owner_pid INTEGER NOT NULL,
     owner_start TEXT NOT NULL,
     outcome TEXT,
     updated_at INTEGER NOT NULL
   )`,
  `CREATE TABLE incoming (
     upload TEXT PRIMARY KEY,
     box_id TEXT,
     box_name TEXT,
     phase TEXT NOT NULL,
     owner_pid INTEGER NOT NULL,
     owner_start TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
];

export const outgoingPhases = ['preflight', 'dump', 'transfer', 'restore', 'aborting', 'commit', 'destroy', 'done'] as const;
export type OutgoingPhase = (typeof outgoingPhases)[number];
export type IncomingPhase = 'importing' | 'restored' | 'committed' | 'aborted';
/** live: criu's images; cold: the box stopped and started again. */
export type MigrationMode = 'live' | 'cold';

export interface Owner {
  pid: number;
  start: string;
}

export interface OutgoingRecord {
  upload: string;
  boxId: string;
  boxName: string;
  target: string;
  token: string;
  mode: MigrationMode;
  phase: OutgoingPhase;
  imageDir: string | null;
  owner: Owner;
  /** For `done`: where the box runs (`here`, `there`). */
  outcome: string | null;
}

export interface IncomingRecord {
  upload: string;
  boxId: string | null;
  boxName: string | null;
  phase: IncomingPhase;
  owner: Owner;
}

/** The kernel's start time of a process (field 22 of its stat): a pid reused later has another. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function thisProcess(): Owner {
  return { pid: process.pid, start: startTimeOf(process.pid) ?? '' };
}

/** Whether the process that wrote a record still runs (this one included). */
export function ownerAlive(owner: Owner): boolean {
  return startTimeOf(owner.pid) === owner.start;
}

interface OutgoingRow {
  upload: string;
  box_id: string;
  box_name: string;
  target: string;
  token: string;
  mode: MigrationMode;
  phase: OutgoingPhase;
  image_dir: string | null;
  owner_pid: number;
  owner_start: string;
  outcome: string | null;
}

interface IncomingRow {
  upload: string;
  box_id: string | null;
  box_name: string | null;
  phase: IncomingPhase;
  owner_pid: number;
  owner_start: string;
}

const outgoingOf = (row: OutgoingRow): OutgoingRecord => ({
  upload: row.upload,
  boxId: row.box_id,
  boxName: row.box_name,
  target: row.target,
  token: row.token,
  mode: row.mode,
  phase: row.phase,
  imageDir: row.image_dir,
  owner: { pid: row.owner_pid, start: row.owner_start },
  outcome: row.outcome,
});

const incomingOf = (row: IncomingRow): IncomingRecord => ({
  upload: row.upload,
  boxId: row.box_id,
  boxName: row.box_name,
  phase: row.phase,
  owner: { pid: row.owner_pid, start: row.owner_start },
});

/** The migration records of one host (its state dir's plugin database). */
export class MigrationRecords {
  private db: PluginDatabase | undefined;

  constructor(private readonly databases: PluginDatabases | undefined) {}

  /** Whether a migration was ever recorded here: reading none makes no database (the CLI's settle runs on every host). */
  private recorded(): boolean {
    return this.db !== undefined || (this.databases?.exists('migration') ?? false);
  }

  private open(): PluginDatabase {
    if (!this.databases) throw new Error('the migration plugin has no database on this host');
    this.db ??= this.databases.open('migration', migrationDbMigrations);
    return this.db;
  }

  beginOutgoing(record: Omit<OutgoingRecord, 'owner' | 'outcome' | 'phase' | 'imageDir'>): OutgoingRecord {
    const owner = thisProcess();
    this.open().run(
      `INSERT INTO outgoing (upload, box_id, box_name, target, token, mode, phase, owner_pid, owner_start, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'preflight', ?, ?, ?)`,
      record.upload,
      record.boxId,
      record.boxName,
      record.target,
      record.token,
      record.mode,
      owner.pid,
      owner.start,
      Date.now(),
    );
    return { ...record, phase: 'preflight', imageDir: null, owner, outcome: null };
  }

  /** Moves an outgoing migration to its next phase (durably, before that phase's work). */
  setOutgoing(
    upload: string,
    changes: { phase: OutgoingPhase; token?: string; mode?: MigrationMode; imageDir?: string; outcome?: string; owner?: Owner },
  ): void {
    const current = this.outgoing(upload);
    if (!current) throw new Error(`no outgoing migration ${upload}`);
    const owner = changes.owner ?? current.owner;
    this.open().run(
      'UPDATE outgoing SET phase = ?, token = ?, mode = ?, image_dir = ?, outcome = ?, owner_pid = ?, owner_start = ?, updated_at = ? WHERE upload = ?',
      changes.phase,
      // The target's token is kept only while the target may still have to be asked.
      changes.phase === 'done' ? '' : (changes.token ?? current.token),
      changes.mode ?? current.mode,
      changes.imageDir ?? current.imageDir,
      changes.outcome ?? current.outcome,
      owner.pid,
      owner.start,
      Date.now(),
      upload,
    );
  }

  outgoing(upload: string): OutgoingRecord | undefined {
    const row = this.open().get<OutgoingRow>('SELECT * FROM outgoing WHERE upload = ?', upload);
    return row ? outgoingOf(row) : undefined;
  }

  /** The latest outgoing migration of a box (by its name or id). */
  latestOutgoing(box: string): OutgoingRecord | undefined {
    const row = this.open().get<OutgoingRow>('SELECT * FROM outgoing WHERE box_name = ? OR box_id = ? ORDER BY updated_at DESC, rowid DESC LIMIT 1', box, box);
    return row ? outgoingOf(row) : undefined;
  }

  /** Outgoing migrations not settled yet. */
  unsettledOutgoing(): OutgoingRecord[] {
    if (!this.recorded()) return [];
    return this.open().all<OutgoingRow>("SELECT * FROM outgoing WHERE phase <> 'done' ORDER BY updated_at").map(outgoingOf);
  }

  /** Records an import for a migration; false when that upload was settled already (an abort came first). */
  beginIncoming(upload: string): boolean {
    const owner = thisProcess();
    return (
      this.open().run(
        `INSERT OR IGNORE INTO incoming (upload, phase, owner_pid, owner_start, updated_at) VALUES (?, 'importing', ?, ?, ?)`,
        upload,
        owner.pid,
        owner.start,
        Date.now(),
      ).changes === 1
    );
  }

  setIncoming(upload: string, changes: { phase: IncomingPhase; boxId?: string; boxName?: string }): void {
    this.open().run(
      'UPDATE incoming SET phase = ?, box_id = COALESCE(?, box_id), box_name = COALESCE(?, box_name), updated_at = ? WHERE upload = ?',
      changes.phase,
      changes.boxId ?? null,
      changes.boxName ?? null,
      Date.now(),
      upload,
    );
  }

  incoming(upload: string): IncomingRecord | undefined {
    const row = this.open().get<IncomingRow>('SELECT * FROM incoming WHERE upload = ?', upload);
    return row ? incomingOf(row) : undefined;
  }

  unsettledIncoming(): IncomingRecord[] {
    if (!this.recorded()) return [];
    return this.open().all<IncomingRow>("SELECT * FROM incoming WHERE phase IN ('importing', 'restored') ORDER BY updated_at").map(incomingOf);
  }
}
