/**
 * The box's exit policy (core `exitPolicyPoint`): a reboot from inside restarts the box or
 * leaves it stopped (`onReboot`); every restart in a row — reboots and crashes restarted by the
 * core's `restart` field alike — waits longer than the one before (backoff), and after
 * `restarts.max` of them the box is left stopped with the reason (a reboot loop, a crash loop).
 * A run of `restarts.stableMs` or longer ends the series.
 *
 * The series is kept in the plugin's state store (every process of the host sees it: the agent
 * that settles the exit may not be the one that settled the last), keyed by box.
 */

import type { Box, ExitDecision, ExitPolicyContribution, ExitPolicyInput, PluginStateStore } from '@nsbox/core';
import { type OnReboot, powerSchema, type RestartLimit } from './power-schema.js';

const NAMESPACE = 'virtualisation';
const seriesKey = (boxId: string) => `restarts:${boxId}`;

interface Series {
  /** Restarts in a row so far. */
  count: number;
}

interface PowerConfig {
  onReboot: OnReboot;
  restarts: RestartLimit;
}

/** The delay before restart number `index` of a series (0: the first, immediate). */
export function backoffDelay(index: number, limit: RestartLimit): number {
  if (index <= 0) return 0;
  return Math.min(limit.backoffMs * 2 ** (index - 1), limit.maxBackoffMs);
}

/** How long the run that just ended lasted, from the runtime's start time (undefined when unknown). */
function runMs(box: Box, now: number): number | undefined {
  const startedAt = box.runtime.startedAt;
  return typeof startedAt === 'number' ? now - startedAt : undefined;
}

export class PowerPolicy implements ExitPolicyContribution {
  readonly plugin = 'virtualisation';

  constructor(private readonly state: PluginStateStore) {}

  decide(input: ExitPolicyInput): ExitDecision | undefined {
    // The stored config keeps only what was given: defaults are filled in here.
    const parsed = powerSchema.safeParse(input.config ?? {});
    if (!parsed.success) return undefined;
    const config: PowerConfig = parsed.data;
    const { box, exit, now } = input;
    if (exit.reason === 'reboot' && config.onReboot === 'stop') {
      this.forget(box.id);
      return { restart: false, reason: "the box rebooted and its policy is onReboot 'stop'" };
    }
    if (!input.restartByDefault) {
      this.forget(box.id);
      return undefined;
    }
    const limit = config.restarts;
    const ran = runMs(box, now);
    const series = ran !== undefined && ran >= limit.stableMs ? { count: 0 } : this.series(box.id);
    if (series.count >= limit.max) {
      // Given up: a start by hand begins a new series.
      this.forget(box.id);
      const what = exit.reason === 'reboot' ? 'reboot loop' : 'restart loop';
      return {
        restart: false,
        reason: `${what}: ${series.count} restarts in a row, none ran ${limit.stableMs} ms; left stopped after this ${describeExit(exit)}`,
      };
    }
    this.state.set(NAMESPACE, seriesKey(box.id), JSON.stringify({ count: series.count + 1 } satisfies Series));
    return { restart: true, delayMs: backoffDelay(series.count, limit) };
  }

  /** The box is gone: its series too. */
  forget(boxId: string): void {
    this.state.delete(NAMESPACE, seriesKey(boxId));
  }

  private series(boxId: string): Series {
    const stored = this.state.get(NAMESPACE, seriesKey(boxId));
    if (!stored) return { count: 0 };
    try {
      const parsed = JSON.parse(stored) as Partial<Series>;
      return { count: typeof parsed.count === 'number' ? parsed.count : 0 };
    } catch {
      return { count: 0 };
    }
  }
}

function describeExit(exit: ExitPolicyInput['exit']): string {
  if (exit.reason === 'exit') return `exit with code ${exit.exitCode ?? 0}`;
  if (exit.reason === 'signal') return `death by signal ${exit.signal}`;
  return exit.reason;
}
