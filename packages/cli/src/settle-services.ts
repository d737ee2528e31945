/**
 * The plugins' host services settled once by a CLI in local mode, before it acts: on a host
 * where no resident agent runs (no nsboxd, no `nsboxd --agent`), what a killed process left
 * — a `nsbox migrate` killed mid-way — is repaired by the next command, not only when a
 * daemon next starts. Where an agent runs for the state directory it keeps settling, and the
 * CLI leaves it to it.
 */

import type { OperationLog } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { daemonRecord } from './remote-daemon.js';

/** How long a command waits for the services to settle (a target host that does not answer). */
const SETTLE_MS = 15_000;

/** An nsboxd (or its agent alone) runs for this state directory: its nsboxd.json names a live pid. */
export function agentRuns(stateDir: string): boolean {
  return daemonRecord(stateDir)?.running ?? false;
}

const stderrLog: OperationLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => process.stderr.write(`nsbox: ${message}\n`),
};

export async function settleHostServices(host: NsboxHost): Promise<void> {
  const services = host.plugins.hostServices().filter(({ service }) => service.settle);
  if (services.length === 0 || agentRuns(host.stateDir)) return;
  const signal = AbortSignal.timeout(SETTLE_MS);
  for (const { plugin, service } of services) {
    const settling = Promise.resolve(service.settle?.({ signal, log: stderrLog }));
    const gaveUp = new Promise<'late'>((resolve) => signal.addEventListener('abort', () => resolve('late'), { once: true }));
    try {
      if ((await Promise.race([settling, gaveUp])) === 'late') {
        stderrLog.warn(`${plugin}: ${service.name} did not settle within ${SETTLE_MS / 1000} s; the next command tries again`);
        return;
      }
    } catch (error) {
      stderrLog.warn(`${plugin}: ${service.name}: ${(error as Error).message}`);
    }
  }
}
