/**
 * Box history in the plugin's own SQLite database: two tiers of points per box — fine (one
 * point per `fineStepSeconds`, kept `fineRetentionHours`) and coarse (one per
 * `coarseStepSeconds`, kept `coarseRetentionDays`). Every sample is folded into the current
 * bucket of both tiers at once (one upsert each), so nothing is lost to a restart of the
 * agent, and a box's rows are bounded by the two retentions: at the defaults 1,440 + 744.
 */

import type { PluginDatabase, PluginDatabases, SqlValue } from '@nsbox/core';
import { type HistoryPoint, type PointField, pointColumns, pointOf } from './history-point.js';
import type { BoxSample } from './sample.js';
import type { TrackingSettings } from './settings.js';

const fields = Object.keys(pointColumns) as PointField[];
const column = (field: PointField) => pointColumns[field][0];

/** Append-only: a later change is a new step, never an edit of a shipped one. */
export const historyMigrations: readonly string[] = [
  `CREATE TABLE tracking_points (
     box_id TEXT NOT NULL,
     tier INTEGER NOT NULL,
     time INTEGER NOT NULL,
     cpu_usec INTEGER,
     cpu_user_usec INTEGER,
     cpu_system_usec INTEGER,
     throttled_periods INTEGER,
     throttled_usec INTEGER,
     memory INTEGER,
     memory_anon INTEGER,
     memory_file INTEGER,
     memory_kernel INTEGER,
     memory_sock INTEGER,
     swap INTEGER,
     memory_peak INTEGER,
     oom_kills INTEGER,
     pids_limit_hits INTEGER,
     pids INTEGER,
     processes INTEGER,
     threads INTEGER,
     open_files INTEGER,
     io_read_bytes INTEGER,
     io_write_bytes INTEGER,
     io_reads INTEGER,
     io_writes INTEGER,
     cpu_pressure REAL,
     memory_pressure REAL,
     io_pressure REAL,
     counters TEXT NOT NULL DEFAULT '{}',
     samples INTEGER NOT NULL DEFAULT 1,
     PRIMARY KEY (box_id, tier, time)
   ) WITHOUT ROWID`,
  // Disk blocks and inodes of the box's root filesystem (gauges: a bucket keeps its highest).
  `ALTER TABLE tracking_points ADD COLUMN disk_used INTEGER;
   ALTER TABLE tracking_points ADD COLUMN disk_free INTEGER;
   ALTER TABLE tracking_points ADD COLUMN inodes_used INTEGER;
   ALTER TABLE tracking_points ADD COLUMN inodes_free INTEGER`,
];

/** The plugin's database, `<state-dir>/plugins/tracking/tracking.db`. */
const TRACKING = 'tracking';

export const FINE = 0;
export const COARSE = 1;

type Row = { time: number; counters: string } & Record<string, number | null>;

/** Counters: the bucket's last value; gauges: the highest the bucket saw, floors the lowest (NULLs do not erase). */
function merge(field: PointField): string {
  const name = column(field);
  const kind = pointColumns[field][1];
  if (kind === 'counter') return `${name} = coalesce(excluded.${name}, ${name})`;
  const better = kind === 'gauge' ? '>' : '<';
  return `${name} = CASE WHEN ${name} IS NULL OR excluded.${name} ${better} ${name} THEN excluded.${name} ELSE ${name} END`;
}

const upsert = `INSERT INTO tracking_points (box_id, tier, time, ${fields.map(column).join(', ')}, counters)
  VALUES (?, ?, ?, ${fields.map(() => '?').join(', ')}, ?)
  ON CONFLICT (box_id, tier, time) DO UPDATE SET ${fields.map(merge).join(', ')}, counters = excluded.counters, samples = samples + 1`;

export interface HistoryRange {
  since: number;
  until?: number;
}

export class HistoryStore {
  private opened: PluginDatabase | undefined;

  constructor(
    private readonly databases: PluginDatabases,
    private readonly settings: TrackingSettings,
  ) {}

  /**
   * The database, made by the first write (the sampler's): a host where tracking never sampled
   * has none, and reading or forgetting there makes none (no CLI call opens one).
   */
  private db(create: boolean): PluginDatabase | undefined {
    if (!this.opened && (create || this.databases.exists(TRACKING))) this.opened = this.databases.open(TRACKING, historyMigrations);
    return this.opened;
  }

  private steps(): [number, number] {
    return [this.settings.fineStepSeconds * 1000, this.settings.coarseStepSeconds * 1000];
  }

  /** Folds the samples into the current fine and coarse buckets of their boxes, in one transaction. */
  record(samples: readonly BoxSample[]): void {
    if (samples.length === 0) return;
    const [fine, coarse] = this.steps();
    const db = this.db(true) as PluginDatabase;
    db.transaction(() => {
      for (const sample of samples) {
        const point = pointOf(sample);
        const values: SqlValue[] = [...fields.map((field) => point[field]), JSON.stringify(point.counters)];
        db.run(upsert, sample.boxId, FINE, Math.floor(sample.time / fine) * fine, ...values);
        db.run(upsert, sample.boxId, COARSE, Math.floor(sample.time / coarse) * coarse, ...values);
      }
    });
  }

  /** The tier that still covers `since`: fine within its retention, coarse beyond. */
  tierFor(since: number, now: number): number {
    return since >= now - this.settings.fineRetentionHours * 3_600_000 ? FINE : COARSE;
  }

  points(boxId: string, range: HistoryRange, now = Date.now()): { tier: number; step: number; points: HistoryPoint[] } {
    const tier = this.tierFor(range.since, now);
    const step = this.steps()[tier] as number;
    const since = Math.floor(range.since / step) * step;
    const rows =
      this.db(false)?.all<Row>(
        'SELECT * FROM tracking_points WHERE box_id = ? AND tier = ? AND time >= ? AND time <= ? ORDER BY time',
        boxId,
        tier,
        since,
        range.until ?? now,
      ) ?? [];
    return { tier, step, points: rows.map(toPoint) };
  }

  /** The latest fine point of a box (what the flight recorder compares with after a restart). */
  latest(boxId: string): HistoryPoint | undefined {
    const row = this.db(false)?.get<Row>('SELECT * FROM tracking_points WHERE box_id = ? AND tier = ? ORDER BY time DESC LIMIT 1', boxId, FINE);
    return row && toPoint(row);
  }

  /** Drops what is past its tier's retention, and every point of boxes that no longer exist. */
  prune(now: number, boxIds: readonly string[]): number {
    const db = this.db(false);
    if (!db) return 0;
    return db.transaction(() => {
      let removed = db.run('DELETE FROM tracking_points WHERE tier = ? AND time < ?', FINE, now - this.settings.fineRetentionHours * 3_600_000).changes;
      removed += db.run('DELETE FROM tracking_points WHERE tier = ? AND time < ?', COARSE, now - this.settings.coarseRetentionDays * 86_400_000).changes;
      const known = new Set(boxIds);
      for (const { box_id: id } of db.all<{ box_id: string }>('SELECT DISTINCT box_id FROM tracking_points')) {
        if (!known.has(id)) removed += this.forget(id);
      }
      return removed;
    });
  }

  forget(boxId: string): number {
    return this.db(false)?.run('DELETE FROM tracking_points WHERE box_id = ?', boxId).changes ?? 0;
  }

  rowCount(boxId?: string): number {
    const db = this.db(false);
    const row = boxId
      ? db?.get<{ n: number }>('SELECT count(*) AS n FROM tracking_points WHERE box_id = ?', boxId)
      : db?.get<{ n: number }>('SELECT count(*) AS n FROM tracking_points');
    return row?.n ?? 0;
  }

  /** Bytes of the database on disk (0 where tracking never sampled). */
  sizeBytes(): number {
    return this.db(false)?.sizeBytes() ?? 0;
  }
}

function toPoint(row: Row): HistoryPoint {
  const point = { time: row.time, counters: JSON.parse(row.counters) as Record<string, number> } as HistoryPoint;
  for (const field of fields) (point as Record<string, unknown>)[field] = row[column(field)] ?? null;
  return point;
}
