/**
 * The flight recorder: what the sampler notices between two samples of a box, reported when
 * it happens rather than when someone looks — an OOM kill (with its victim from the kernel
 * log and the memory at the time), forks refused at the pids limit, a CPU-throttling episode
 * (its start, and its end with how long and how much), memory or IO pressure above the
 * threshold, the space or the inodes of the box's own filesystem (a disk limit) nearly all
 * used. Events go through the event bus: into the box's history and onto the stream.
 */

import { isVictimOf, type OomVictim } from './kernel-log.js';
import type { BoxSample } from './sample.js';

export interface RecordedEvent {
  kind: string;
  data: Record<string, unknown>;
}

/** What the recorder remembers of a box between samples. */
export interface BoxTrail {
  oomKills: number;
  pidsLimitHits: number;
  throttledPeriods: number;
  throttledUsec: number;
  /** An episode under way: when it began and the counters then. */
  throttling?: { since: number; periods: number; usec: number };
  pressure: { memory: boolean; io: boolean };
  /** A full-disk episode under way, by resource. */
  diskFull: { space: boolean; inodes: boolean };
}

/** What the recorder compares a sample with: its thresholds (host settings). */
export interface Thresholds {
  /** PSI `some` avg10, percent. */
  pressure: number;
  /** Space or inodes used, percent (df's Use%). */
  diskFull: number;
}

/*
 * New throttled periods without throttled time held no task of the box back: the kernel
 * counts a period as throttled when, at its timer, a cfs_rq of the box is throttled — also one
 * its last task emptied while using the end of the quota (a task finishing in the kernel, an
 * exit, is not stopped), which then stays throttled, with no task waiting and no throttled
 * time, until that timer: up to a period after the box's last task ran (measured: +1 period,
 * +0 ns, 50–100 ms after a spinning box's exec returned, in 2 of 36 tries). Such a period does
 * not keep an episode going.
 */

export function trailOf(sample: BoxSample, previous?: BoxTrail): BoxTrail {
  return {
    oomKills: sample.events.oomKills,
    pidsLimitHits: sample.events.pidsMax,
    throttledPeriods: sample.stats.cpu.throttledPeriods ?? 0,
    throttledUsec: sample.stats.cpu.throttledUsec ?? 0,
    ...(previous?.throttling ? { throttling: previous.throttling } : {}),
    pressure: previous?.pressure ?? { memory: false, io: false },
    diskFull: previous?.diskFull ?? { space: false, inodes: false },
  };
}

/** Percent used, as df rounds it up: used / (used + available to a writer). */
function percentUsed(used: number | null, free: number | null): number | undefined {
  if (used === null || free === null || used + free === 0) return undefined;
  return Math.ceil((used / (used + free)) * 100);
}

/**
 * Compares a sample with the box's trail; returns the events and the new trail. A counter
 * lower than the trail's is a new cgroup (the box restarted): it counts from zero.
 */
export function observe(
  sample: BoxSample,
  trail: BoxTrail | undefined,
  victims: readonly OomVictim[],
  thresholds: Thresholds,
): { events: RecordedEvent[]; trail: BoxTrail } {
  const next = trailOf(sample, trail);
  const events: RecordedEvent[] = [];
  if (!trail) return { events, trail: next };
  const since = (now: number, before: number) => (now >= before ? now - before : now);
  const box = { box: sample.box };

  const kills = since(sample.events.oomKills, trail.oomKills);
  if (kills > 0) {
    const mine = victims.filter((victim) => isVictimOf(victim, sample));
    events.push({
      kind: 'tracking.oom-kill',
      data: {
        ...box,
        kills,
        total: sample.events.oomKills,
        victims: mine.map(({ pid, command, anonRssBytes }) => ({ pid, command, ...(anonRssBytes !== undefined ? { anonRssBytes } : {}) })),
        memory: { usage: sample.stats.memory.usage ?? null, peak: sample.stats.memory.peak ?? null },
      },
    });
  }

  const refused = since(sample.events.pidsMax, trail.pidsLimitHits);
  if (refused > 0) {
    events.push({ kind: 'tracking.pids-limit', data: { ...box, refused, total: sample.events.pidsMax, pids: sample.stats.pids.current ?? null } });
  }

  const periods = since(next.throttledPeriods, trail.throttledPeriods);
  const heldBack = periods > 0 && since(next.throttledUsec, trail.throttledUsec) > 0;
  if (periods > 0 && !trail.throttling) {
    next.throttling = { since: sample.time, periods: trail.throttledPeriods, usec: trail.throttledUsec };
    events.push({
      kind: 'tracking.cpu-throttled',
      data: { ...box, periods, throttledMs: Math.round(since(next.throttledUsec, trail.throttledUsec) / 1000) },
    });
  } else if (!heldBack && trail.throttling) {
    const episode = trail.throttling;
    delete next.throttling;
    events.push({
      kind: 'tracking.cpu-throttle-ended',
      data: {
        ...box,
        durationMs: sample.time - episode.since,
        periods: since(next.throttledPeriods, episode.periods),
        throttledMs: Math.round(since(next.throttledUsec, episode.usec) / 1000),
      },
    });
  }

  for (const resource of ['memory', 'io'] as const) {
    const avg10 = sample.stats.pressure?.[resource]?.some.avg10;
    if (avg10 === undefined) continue;
    const high = avg10 >= thresholds.pressure;
    if (high && !trail.pressure[resource]) events.push({ kind: `tracking.${resource}-pressure`, data: { ...box, avg10, threshold: thresholds.pressure } });
    next.pressure = { ...next.pressure, [resource]: high };
  }

  // The host's filesystem filling is the host's matter: only a box's own one is watched.
  const disk = sample.disk?.own ? sample.disk : undefined;
  const usage = {
    space: disk && { used: disk.usedBytes, free: disk.freeBytes, total: disk.sizeBytes },
    inodes: disk && { used: disk.inodesUsed, free: disk.inodesFree, total: disk.inodes },
  };
  for (const resource of ['space', 'inodes'] as const) {
    const figures = usage[resource];
    const percent = figures && percentUsed(figures.used, figures.free);
    if (percent === undefined) continue;
    const full = percent >= thresholds.diskFull;
    if (full && !trail.diskFull[resource]) {
      events.push({ kind: 'tracking.disk-full', data: { ...box, resource, ...figures, percent, threshold: thresholds.diskFull } });
    }
    next.diskFull = { ...next.diskFull, [resource]: full };
  }
  return { events, trail: next };
}
