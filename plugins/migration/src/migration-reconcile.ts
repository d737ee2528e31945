/**
 * The resident agent's migration service: at its start, and then every few seconds, it
 * settles the migrations an nsboxd killed mid-way left behind — on the target, imports never
 * committed are removed (presumed abort); on the source, the box runs here again or goes, as
 * the target answers (outgoing.ts). A migration whose target does not answer yet stays and is
 * asked again, so that the box never runs twice nor nowhere.
 */

import type { HostService, OperationLog, ServiceSource } from '@nsbox/core';
import { reconcileIncoming } from './incoming.js';
import type { MigrationService } from './migration-service.js';
import { reconcileOutgoing } from './outgoing.js';
import { transferServices } from './transfer-actions.js';

/** Between two rounds while some migration waits for its target, and otherwise. */
const RETRY_MS = 1000;
const IDLE_MS = 5000;

export function migrationReconciler(migration: MigrationService, services: ServiceSource): HostService {
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  const round = async (log: OperationLog, atStart: boolean): Promise<void> => {
    let waiting = 0;
    try {
      const transfer = transferServices(services);
      await reconcileIncoming(migration.incomingSide(transfer), log, atStart);
      waiting = await reconcileOutgoing(migration.outgoingSide(transfer, log));
    } catch (error) {
      log.warn(`migration reconcile: ${(error as Error).message}`);
      waiting = 1;
    }
    if (!stopped) timer = setTimeout(() => void round(log, false), waiting > 0 ? RETRY_MS : IDLE_MS);
  };
  return {
    name: 'migration-reconcile',
    start: ({ log }) => {
      stopped = false;
      // Not awaited: a target that does not answer must not hold the agent's start.
      void round(log, true);
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
