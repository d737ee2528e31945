/** What `nsbox stats` and its route return, built from samples and history points. */

import type { DiskUsage } from './disk-usage.js';
import type { HistoryPoint } from './history-point.js';
import type { BoxSample } from './sample.js';

export interface BoxStatsView {
  box: string;
  state: string;
  /** When the sample was read (ISO 8601). */
  time: string;
  cpu: {
    usageSeconds: number | null;
    userSeconds: number | null;
    systemSeconds: number | null;
    /** Share of one CPU over the last interval (200 %: two CPUs busy); null without two samples. */
    percent: number | null;
    throttledPeriods: number | null;
    throttledSeconds: number | null;
  };
  memory: {
    usage: number | null;
    anon: number | null;
    file: number | null;
    kernel: number | null;
    sock: number | null;
    swap: number | null;
    peak: number | null;
    oomKills: number;
  };
  pids: { current: number | null; limitHits: number };
  processes: number;
  threads: number;
  openFiles: number;
  /** Syscalls the box's seccomp filter denied since the agent started; null when its filter does not log them (or no agent samples). */
  seccompDenials: number | null;
  io: { device: string; readBytes: number; writeBytes: number; reads: number; writes: number }[];
  /** Blocks and inodes of the box's root filesystem (`own: false`: the host's, shared); null when unreadable. */
  disk: DiskUsage | null;
  /** PSI `some` avg10 (percent of wall time) by resource, where the kernel has it. */
  pressure: { cpu: number | null; memory: number | null; io: number | null };
  /** Other plugins' counters (network bytes per interface...), by series. */
  counters: Record<string, number>;
}

export interface HistoryRow {
  time: string;
  cpuPercent: number | null;
  memory: number | null;
  memoryAnon: number | null;
  processes: number | null;
  threads: number | null;
  openFiles: number | null;
  ioReadBytesPerSecond: number | null;
  ioWriteBytesPerSecond: number | null;
  oomKills: number | null;
  cpuPressure: number | null;
  memoryPressure: number | null;
  diskUsed: number | null;
  diskFree: number | null;
  inodesUsed: number | null;
  inodesFree: number | null;
}

export interface BoxHistoryView {
  /** The range asked for (ISO 8601). */
  from: string;
  to: string;
  /** Milliseconds between two points (the tier's step). */
  stepMs: number;
  tier: 'fine' | 'coarse';
  points: HistoryRow[];
}

const orNull = (value: number | undefined) => value ?? null;
const seconds = (usec: number | undefined) => (usec === undefined ? null : usec / 1e6);

/** Percent of one CPU between two readings of the usage counter (null across a restart). */
export function cpuPercent(before: { time: number; usec: number | null | undefined }, after: { time: number; usec: number | null | undefined }): number | null {
  if (before.usec == null || after.usec == null || after.time <= before.time || after.usec < before.usec) return null;
  return Math.round(((after.usec - before.usec) / ((after.time - before.time) * 1000)) * 1000) / 10;
}

export function statsView(sample: BoxSample, state: string, shownName: string, previous?: BoxSample): BoxStatsView {
  const { cpu, memory, pids, io, pressure } = sample.stats;
  const counters: Record<string, number> = {};
  for (const metric of sample.contributed) {
    const labels = Object.entries(metric.labels)
      .filter(([key]) => key !== 'box')
      .map(([key, value]) => `${key}="${value}"`);
    counters[labels.length ? `${metric.name}{${labels.join(',')}}` : metric.name] = metric.value;
  }
  return {
    box: shownName,
    state,
    time: new Date(sample.time).toISOString(),
    cpu: {
      usageSeconds: seconds(cpu.usageUsec),
      userSeconds: seconds(cpu.userUsec),
      systemSeconds: seconds(cpu.systemUsec),
      percent: previous ? cpuPercent({ time: previous.time, usec: previous.stats.cpu.usageUsec }, { time: sample.time, usec: cpu.usageUsec }) : null,
      throttledPeriods: orNull(cpu.throttledPeriods),
      throttledSeconds: seconds(cpu.throttledUsec),
    },
    memory: {
      usage: orNull(memory.usage),
      anon: orNull(memory.anon),
      file: orNull(memory.file),
      kernel: orNull(memory.kernel),
      sock: orNull(memory.sock),
      swap: orNull(memory.swapUsage),
      peak: orNull(memory.peak),
      oomKills: sample.events.oomKills,
    },
    pids: { current: orNull(pids.current), limitHits: sample.events.pidsMax },
    processes: sample.census.processes,
    threads: sample.census.threads,
    openFiles: sample.census.openFiles,
    seccompDenials: sample.seccompDenials ?? null,
    io: io.map((device) => ({ ...device })),
    disk: sample.disk ? { ...sample.disk } : null,
    pressure: { cpu: orNull(pressure?.cpu?.some.avg10), memory: orNull(pressure?.memory?.some.avg10), io: orNull(pressure?.io?.some.avg10) },
    counters,
  };
}

/** History points with rates between neighbours (the first point has none). */
export function historyRows(points: readonly HistoryPoint[]): HistoryRow[] {
  return points.map((point, index) => {
    const before = index > 0 ? points[index - 1] : undefined;
    const rate = (field: 'ioReadBytes' | 'ioWriteBytes') => {
      const a = before?.[field];
      const b = point[field];
      if (!before || a == null || b == null || b < a || point.time <= before.time) return null;
      return Math.round(((b - a) / (point.time - before.time)) * 1000);
    };
    return {
      time: new Date(point.time).toISOString(),
      cpuPercent: before ? cpuPercent({ time: before.time, usec: before.cpuUsec }, { time: point.time, usec: point.cpuUsec }) : null,
      memory: point.memory,
      memoryAnon: point.memoryAnon,
      processes: point.processes,
      threads: point.threads,
      openFiles: point.openFiles,
      ioReadBytesPerSecond: rate('ioReadBytes'),
      ioWriteBytesPerSecond: rate('ioWriteBytes'),
      oomKills: point.oomKills,
      cpuPressure: point.cpuPressure,
      memoryPressure: point.memoryPressure,
      diskUsed: point.diskUsed,
      diskFree: point.diskFree,
      inodesUsed: point.inodesUsed,
      inodesFree: point.inodesFree,
    };
  });
}
