/**
 * The resident agent: what nsboxd runs beside its API, and all that `nsboxd --agent` runs —
 * the box watcher (exits noticed at once, settled by the core) and the plugins' host
 * services. It holds the state dir's agent lock for as long as it runs.
 *
 * Boxes never depend on it: each runs under its own shim, so the agent may be stopped,
 * SIGKILLed or upgraded while they run. The next agent reconciles (an exit that happened
 * meanwhile gets its exited hooks, tear-down and restart policy then) before it starts.
 */

import type { OperationLog } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import type { AgentLock } from './agent-lock.js';
import { BoxWatcher } from './box-watcher.js';
import { ServiceSupervisor } from './service-supervisor.js';

export interface AgentSettings {
  /** Between two sweeps of the running boxes (default 5 s). */
  sweepMs?: number;
  /** First delay before a crashed host service starts again (default 1 s, doubling to 60 s). */
  serviceBackoffMs?: number;
  /** How long a host service's start may take before the next one starts (default 10 s). */
  serviceStartGraceMs?: number;
}

export interface ResidentAgentOptions extends AgentSettings {
  host: NsboxHost;
  /** Where the boxes' directories are (the Linux driver's `boxesDir`). */
  boxesDir: string;
  /** The state dir's agent lock, taken before the host was reconciled; released on close. */
  lock: AgentLock;
  log: (scope: string) => OperationLog;
}

export interface ResidentAgent {
  watcher: BoxWatcher;
  services: ServiceSupervisor;
  /** Stops the host services (last first) and the watcher, then releases the lock. Boxes keep running. */
  close(): Promise<void>;
}

/** Starts the watcher, then the host services in dependency order. */
export async function startResidentAgent(options: ResidentAgentOptions): Promise<ResidentAgent> {
  const { host } = options;
  const watcher = new BoxWatcher({
    manager: host.manager,
    boxesDir: options.boxesDir,
    log: options.log('agent'),
    ...(options.sweepMs !== undefined ? { sweepMs: options.sweepMs } : {}),
  });
  const services = new ServiceSupervisor({
    services: host.plugins.hostServices(),
    events: host.events,
    log: options.log,
    ...(options.serviceBackoffMs !== undefined ? { backoffMs: options.serviceBackoffMs } : {}),
    ...(options.serviceStartGraceMs !== undefined ? { startGraceMs: options.serviceStartGraceMs } : {}),
  });
  try {
    watcher.start();
    // Exits that happened before the watch began and after the reconcile are settled now.
    watcher.sweep();
    await services.start();
  } catch (error) {
    await services.stop();
    await watcher.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    watcher,
    services,
    close() {
      closing ??= (async () => {
        await services.stop();
        await watcher.close();
        options.lock.release();
      })();
      return closing;
    },
  };
}
