/**
 * What the agent tests' probe plugins record, one JSON line per entry, in a file named by
 * host.json's settings: a real nsboxd process loads them by path, so the test reads a file.
 */

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { z } from '@nsbox/core';

export interface ProbeEntry {
  pid: number;
  at: number;
  plugin: string;
  /** A lifecycle hook (`exited`, `stopped`, `started`...) or a host service's `start`/`stop`. */
  event: string;
  box?: string;
  service?: string;
  exit?: { reason: string; exitCode?: number; signal?: number };
}

export const probeSettings = z.object({
  journal: z.string(),
  /** How many starts of the `flaky` service throw before one succeeds. */
  failFirstStarts: z.number().int().min(0).default(0),
  /** How long the exited hook takes: widens the window in which two processes settle one exit. */
  exitedDelayMs: z.number().int().min(0).default(0),
});

export function recorder(plugin: string, journal: string) {
  return (entry: Omit<ProbeEntry, 'pid' | 'at' | 'plugin'>) =>
    appendFileSync(journal, `${JSON.stringify({ pid: process.pid, at: Date.now(), plugin, ...entry })}\n`);
}

export function readProbeJournal(journal: string): ProbeEntry[] {
  if (!existsSync(journal)) return [];
  return readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ProbeEntry);
}
