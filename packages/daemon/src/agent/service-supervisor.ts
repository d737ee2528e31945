/**
 * Runs the plugins' host services: started in the plugins' dependency order, stopped in
 * reverse. A service that throws (from `start`, or a `start` promise that rejects later, for a
 * service whose start is its whole run) has crashed: it is logged, written to the host's
 * history and started again after a backoff that doubles up to a ceiling. A crash never
 * reaches the agent: nothing a service does can take nsboxd down with it.
 */

import type { EventBus, HostService, OperationLog } from '@nsbox/core';

/** History of the host rather than of a box (not a box id: box ids are UUIDs, names DNS labels). */
export const HOST_HISTORY_ID = '@host';

export interface SupervisedService {
  plugin: string;
  service: HostService;
}

export interface ServiceSupervisorOptions {
  services: readonly SupervisedService[];
  events: EventBus;
  log(plugin: string): OperationLog;
  /** First delay before a crashed service starts again; doubles per crash (default 1 s). */
  backoffMs?: number;
  /** The longest delay (default 60 s); a service that ran this long starts over from `backoffMs`. */
  maxBackoffMs?: number;
  /** How long a start may take before the next service starts anyway (default 10 s). */
  startGraceMs?: number;
  /** How long each `stop` may take at shutdown (default 10 s). */
  stopTimeoutMs?: number;
}

type Status = 'idle' | 'starting' | 'running' | 'crashed' | 'stopped';

interface Entry extends SupervisedService {
  status: Status;
  controller: AbortController;
  /** Consecutive crashes: the exponent of the backoff. */
  crashes: number;
  startedAt: number;
  retry: NodeJS.Timeout | undefined;
}

export interface ServiceState {
  plugin: string;
  name: string;
  status: Status;
  crashes: number;
}

export class ServiceSupervisor {
  private readonly entries: Entry[];
  private stopping = false;

  constructor(private readonly options: ServiceSupervisorOptions) {
    this.entries = options.services.map((supervised) => ({
      ...supervised,
      status: 'idle',
      controller: new AbortController(),
      crashes: 0,
      startedAt: 0,
      retry: undefined,
    }));
  }

  /** Starts every service in order; each start is awaited (at most the grace) before the next. */
  async start(): Promise<void> {
    for (const entry of this.entries) {
      if (this.stopping) return;
      await this.launch(entry);
    }
  }

  /** Stops the services that are up, last first; crashed ones only lose their pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const entry of [...this.entries].reverse()) {
      clearTimeout(entry.retry);
      const wasUp = entry.status === 'running' || entry.status === 'starting';
      entry.controller.abort();
      if (!wasUp) continue;
      entry.status = 'stopped';
      try {
        await withTimeout(
          Promise.resolve().then(() => entry.service.stop()),
          this.options.stopTimeoutMs ?? 10_000,
        );
        this.report(entry, 'service-stopped', {});
      } catch (error) {
        this.log(entry).warn(`host service ${entry.plugin}/${entry.service.name} failed to stop: ${(error as Error).message}`);
        this.report(entry, 'service-stop-failed', { error: (error as Error).message });
      }
    }
  }

  states(): ServiceState[] {
    return this.entries.map((entry) => ({ plugin: entry.plugin, name: entry.service.name, status: entry.status, crashes: entry.crashes }));
  }

  private async launch(entry: Entry): Promise<void> {
    const controller = new AbortController();
    entry.controller = controller;
    entry.status = 'starting';
    entry.startedAt = Date.now();
    let run: Promise<void>;
    try {
      run = Promise.resolve(entry.service.start({ signal: controller.signal, log: this.log(entry) }));
    } catch (error) {
      run = Promise.reject(error);
    }
    const settled = run.then(
      () => {
        if (entry.controller !== controller || controller.signal.aborted) return;
        entry.status = 'running';
        this.report(entry, 'service-started', { attempt: entry.crashes + 1 });
      },
      (error: unknown) => this.crashed(entry, controller, error),
    );
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise<void>((resolve) => (grace = setTimeout(resolve, this.options.startGraceMs ?? 10_000)))]);
    clearTimeout(grace);
  }

  private crashed(entry: Entry, controller: AbortController, error: unknown): void {
    if (entry.controller !== controller || controller.signal.aborted || this.stopping) return;
    controller.abort();
    const base = this.options.backoffMs ?? 1000;
    const ceiling = this.options.maxBackoffMs ?? 60_000;
    if (Date.now() - entry.startedAt >= ceiling) entry.crashes = 0; // it ran well for a while
    entry.crashes += 1;
    entry.status = 'crashed';
    const retryInMs = Math.min(base * 2 ** (entry.crashes - 1), ceiling);
    const message = error instanceof Error ? error.message : String(error);
    this.log(entry).warn(`host service ${entry.plugin}/${entry.service.name} crashed (${message}); starting it again in ${retryInMs} ms`);
    this.report(entry, 'service-failed', { error: message, crashes: entry.crashes, retryInMs });
    entry.retry = setTimeout(() => {
      entry.retry = undefined;
      if (!this.stopping) void this.launch(entry);
    }, retryInMs);
  }

  private log(entry: SupervisedService): OperationLog {
    return this.options.log(entry.plugin);
  }

  private report(entry: SupervisedService, kind: string, data: Record<string, unknown>): void {
    try {
      this.options.events.publish({
        boxId: HOST_HISTORY_ID,
        kind: `agent.${kind}`,
        source: 'agent',
        data: { plugin: entry.plugin, service: entry.service.name, ...data },
      });
    } catch (error) {
      // A store that cannot take the event (closing) must not turn a report into a crash.
      this.log(entry).warn(`cannot record ${kind} of ${entry.plugin}/${entry.service.name}: ${(error as Error).message}`);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
