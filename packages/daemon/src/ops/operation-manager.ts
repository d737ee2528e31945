/**
 * Long operations as resources (the Incus model): a create from a template or a template
 * import answers 202 with an operation that the client polls, waits on or watches, and may
 * cancel; it ends with a result or an error. Operations are rows in the store, so a client
 * still finds one after nsboxd restarted, and the restarted nsboxd settles the ones it left.
 */

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isNsboxError, NsboxError } from '@nsbox/core';
import { StatementCache } from '@nsbox/store';
import type Database from 'better-sqlite3';
import { type ApiErrorBody, toApiError } from '../http/api-error.js';

export type OperationStatus = 'running' | 'success' | 'failure' | 'cancelled';

export interface OperationProgress {
  step: string;
  percent?: number;
  message?: string;
}

export interface Operation {
  id: string;
  kind: string;
  description: string;
  status: OperationStatus;
  tenant: string | null;
  resources: { boxes?: string[]; templates?: string[] };
  progress: OperationProgress | null;
  result: unknown;
  error: ApiErrorBody['error'] | null;
  /** Whether DELETE /operations/:id can still stop it. */
  cancellable: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface OperationInput {
  kind: string;
  description: string;
  tenant: string | null;
  resources: Operation['resources'];
  /** What recovery needs to settle the operation after a crash. */
  input: Record<string, unknown>;
}

export interface OperationContext {
  signal: AbortSignal;
  progress(progress: OperationProgress): void;
}

export interface StoredOperation extends Operation {
  input: Record<string, unknown>;
  pid: number;
}

interface OperationRow {
  id: string;
  kind: string;
  description: string;
  status: string;
  tenant: string | null;
  resources: string;
  input: string;
  progress: string | null;
  result: string | null;
  error: string | null;
  pid: number;
  created_at: number;
  updated_at: number;
}

/** Progress is written to the store at most this often (and always at the end). */
const PROGRESS_WRITE_MS = 500;

/** How long an ended operation's steps stay to be replayed to a late watcher. */
const STEPS_KEPT_MS = 60_000;

interface Live {
  controller: AbortController;
  done: Promise<void>;
  lastWrite: number;
}

export function cancelledError(what: string): NsboxError {
  return new NsboxError('E_CANCELLED', `${what} was cancelled`);
}

export class OperationManager {
  private readonly live = new Map<string, Live>();
  private readonly changes = new EventEmitter();
  /** Progress not yet written (throttled); shown by get() so pollers see it. */
  private readonly pending = new Map<string, OperationProgress>();
  /**
   * The last progress of each step an operation went through, in order: a watcher that
   * subscribes after a step has passed (a client's watch comes a moment after its POST) is
   * shown it still.
   */
  private readonly steps = new Map<string, OperationProgress[]>();

  /** Statements prepared once each (a prepare compiles the SQL): an operation writes its row at each step. */
  private readonly statements: StatementCache;

  constructor(
    db: Database.Database,
    private readonly clock: () => number = Date.now,
  ) {
    this.statements = new StatementCache(db);
    this.changes.setMaxListeners(0);
  }

  start(input: OperationInput, work: (context: OperationContext) => Promise<unknown>): Operation {
    const id = randomUUID();
    const now = this.clock();
    this.statements
      .get(
        "INSERT INTO daemon_operations (id, kind, description, status, tenant, resources, input, pid, created_at, updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
      )
      .run(id, input.kind, input.description, input.tenant, JSON.stringify(input.resources), JSON.stringify(input.input), process.pid, now, now);
    const controller = new AbortController();
    const entry: Live = { controller, lastWrite: 0, done: Promise.resolve() };
    this.live.set(id, entry);
    const context: OperationContext = {
      signal: controller.signal,
      progress: (progress) => this.progress(id, entry, progress),
    };
    entry.done = (async () => {
      try {
        const result = await work(context);
        this.finish(id, 'success', { result });
      } catch (error) {
        const cancelled = controller.signal.aborted || (isNsboxError(error) && error.code === 'E_CANCELLED');
        const body = toApiError(error).body.error;
        // Whatever layer noticed the cancel first, a cancelled operation says E_CANCELLED.
        this.finish(id, cancelled ? 'cancelled' : 'failure', { error: cancelled ? { ...body, code: 'E_CANCELLED' } : body });
      } finally {
        this.live.delete(id);
      }
    })();
    return this.get(id) as Operation;
  }

  get(id: string): Operation | undefined {
    const row = this.statements.get('SELECT * FROM daemon_operations WHERE id = ?').get(id) as OperationRow | undefined;
    return row && this.toOperation(row);
  }

  list(filter: { tenant?: string; status?: OperationStatus } = {}): Operation[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.tenant !== undefined) {
      where.push('tenant = ?');
      params.push(filter.tenant);
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    const sql = `SELECT * FROM daemon_operations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    return (this.statements.get(sql).all(...params) as OperationRow[]).map((row) => this.toOperation(row));
  }

  /** Asks a running operation to stop; it ends 'cancelled' once its work has rolled back. */
  cancel(id: string): Operation | undefined {
    const entry = this.live.get(id);
    const operation = this.get(id);
    if (!operation) return undefined;
    if (!entry) {
      throw new NsboxError('E_INVALID_STATE', `operation ${id} is ${operation.status}: there is nothing to cancel`, {
        details: { operation: id, status: operation.status },
      });
    }
    entry.controller.abort(cancelledError(operation.description));
    return operation;
  }

  /** The operation once it has ended, or as it is when the timeout runs out. */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Operation | undefined> {
    const operation = this.get(id);
    if (operation?.status !== 'running') return operation;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.changes.off(`done:${id}`, finish);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.changes.on(`done:${id}`, finish);
      signal?.addEventListener('abort', finish, { once: true });
    });
    return this.get(id);
  }

  /** The last progress of each step the operation went through so far, oldest first. */
  stepsOf(id: string): OperationProgress[] {
    return [...(this.steps.get(id) ?? [])];
  }

  /** Calls `listener` with the operation on every change (progress, end). */
  watch(id: string, listener: (operation: Operation) => void): () => void {
    const onChange = (operation: Operation) => listener(operation);
    this.changes.on(`change:${id}`, onChange);
    return () => this.changes.off(`change:${id}`, onChange);
  }

  /** Operations a previous nsboxd left running: each is settled by `settle` (finished or rolled back). */
  stale(): StoredOperation[] {
    const rows = this.statements.get("SELECT * FROM daemon_operations WHERE status = 'running' AND pid != ?").all(process.pid) as OperationRow[];
    return rows.map((row) => ({ ...this.toOperation(row), input: JSON.parse(row.input), pid: row.pid }));
  }

  settle(id: string, status: Exclude<OperationStatus, 'running'>, outcome: { result?: unknown; error?: ApiErrorBody['error'] }): void {
    this.finish(id, status, outcome);
  }

  /** Forgets ended operations older than `ageMs`. */
  prune(ageMs: number): number {
    return this.statements.get("DELETE FROM daemon_operations WHERE status != 'running' AND updated_at < ?").run(this.clock() - ageMs).changes;
  }

  /** Resolves when every operation of this process has ended (graceful shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.live.values()].map((entry) => entry.done));
  }

  runningCount(): number {
    return this.live.size;
  }

  private progress(id: string, entry: Live, progress: OperationProgress): void {
    const now = this.clock();
    const snapshot = this.get(id);
    if (!snapshot) return;
    const updated: Operation = { ...snapshot, progress, updatedAt: now };
    const steps = this.steps.get(id) ?? [];
    if (steps.at(-1)?.step === progress.step) steps[steps.length - 1] = progress;
    else steps.push(progress);
    this.steps.set(id, steps);
    if (now - entry.lastWrite >= PROGRESS_WRITE_MS) {
      entry.lastWrite = now;
      // Written: an older one held back must not be written over it at the end.
      this.pending.delete(id);
      this.statements.get('UPDATE daemon_operations SET progress = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(progress), now, id);
    } else {
      this.pending.set(id, progress);
    }
    this.changes.emit(`change:${id}`, updated);
  }

  private finish(id: string, status: Exclude<OperationStatus, 'running'>, outcome: { result?: unknown; error?: ApiErrorBody['error'] }): void {
    const progress = this.pending.get(id);
    this.pending.delete(id);
    const now = this.clock();
    this.statements
      .get(`UPDATE daemon_operations SET status = ?, result = ?, error = ?, updated_at = ?${progress ? ', progress = ?' : ''} WHERE id = ?`)
      .run(
        status,
        outcome.result === undefined ? null : JSON.stringify(outcome.result),
        outcome.error ? JSON.stringify(outcome.error) : null,
        now,
        ...(progress ? [JSON.stringify(progress)] : []),
        id,
      );
    const operation = this.get(id);
    if (operation) {
      this.changes.emit(`change:${id}`, operation);
      this.changes.emit(`done:${id}`, operation);
    }
    setTimeout(() => this.steps.delete(id), STEPS_KEPT_MS).unref();
  }

  private toOperation(row: OperationRow): Operation {
    const pending = this.pending.get(row.id);
    return {
      id: row.id,
      kind: row.kind,
      description: row.description,
      status: row.status as OperationStatus,
      tenant: row.tenant,
      resources: JSON.parse(row.resources),
      progress: pending ?? (row.progress ? JSON.parse(row.progress) : null),
      result: row.result ? JSON.parse(row.result) : null,
      error: row.error ? JSON.parse(row.error) : null,
      cancellable: row.status === 'running' && this.live.has(row.id),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
