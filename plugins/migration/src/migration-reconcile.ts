/**
 * The resident agent's migration service: at its start, and then every few seconds, it
 * settles the migrations an nsboxd killed mid-way left behind — on the target, imports never
 * committed are removed (presumed abort); on the source, the box runs here again or goes, as
 * the target answers (outgoing.ts). A migration whose target does not answer yet stays and is
 * asked again, so that the box never runs twice nor nowhere. On a host with no agent, the
 * local CLI runs one round before it acts (`settle`): a `nsbox migrate` killed mid-way is
 * settled by the next command.
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
  /** The migrations still waiting for their target (asked again sooner). */
  const settleOnce = async (log: OperationLog, atStart: boolean): Promise<number> => {
    try {
      const transfer = transferServices(services);
      await reconcileIncoming(migration.incomingSide(transfer), log, atStart);
      return await reconcileOutgoing(migration.outgoingSide(transfer, log));
    } catch (error) {
      log.warn(`migration reconcile: ${(error as Error).message}`);
      return 1;
    }
  };
  const round = async (log: OperationLog, atStart: boolean): Promise<void> => {
    const waiting = await settleOnce(log, atStart);
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
    // Not as at the agent's start: this host has no API, so no upload arrives here to clear.
    settle: async ({ log }) => {
      await settleOnce(log, false);
    },
  };
}
