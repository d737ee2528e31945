/**
 * A point of history: the figures of a sample flattened into columns. Counters (cumulative
 * since the box's cgroup was made) keep the last value of their time bucket; gauges keep the
 * highest (a bucket shows the peak it held, not a value that happened to be current), free
 * space the lowest.
 */

import type { BoxSample } from './sample.js';

/** `gauge`: the bucket keeps its highest; `floor`: its lowest (free space: the worst it got). */
export type ColumnKind = 'counter' | 'gauge' | 'floor';

export const pointColumns = {
  cpuUsec: ['cpu_usec', 'counter'],
  cpuUserUsec: ['cpu_user_usec', 'counter'],
  cpuSystemUsec: ['cpu_system_usec', 'counter'],
  throttledPeriods: ['throttled_periods', 'counter'],
  throttledUsec: ['throttled_usec', 'counter'],
  memory: ['memory', 'gauge'],
  memoryAnon: ['memory_anon', 'gauge'],
  memoryFile: ['memory_file', 'gauge'],
  memoryKernel: ['memory_kernel', 'gauge'],
  memorySock: ['memory_sock', 'gauge'],
  swap: ['swap', 'gauge'],
  memoryPeak: ['memory_peak', 'gauge'],
  oomKills: ['oom_kills', 'counter'],
  pidsLimitHits: ['pids_limit_hits', 'counter'],
  pids: ['pids', 'gauge'],
  processes: ['processes', 'gauge'],
  threads: ['threads', 'gauge'],
  openFiles: ['open_files', 'gauge'],
  ioReadBytes: ['io_read_bytes', 'counter'],
  ioWriteBytes: ['io_write_bytes', 'counter'],
  ioReads: ['io_reads', 'counter'],
  ioWrites: ['io_writes', 'counter'],
  cpuPressure: ['cpu_pressure', 'gauge'],
  memoryPressure: ['memory_pressure', 'gauge'],
  ioPressure: ['io_pressure', 'gauge'],
  diskUsed: ['disk_used', 'gauge'],
  diskFree: ['disk_free', 'floor'],
  inodesUsed: ['inodes_used', 'gauge'],
  inodesFree: ['inodes_free', 'floor'],
} as const satisfies Record<string, readonly [string, ColumnKind]>;

export type PointField = keyof typeof pointColumns;

/** A point; a figure the host could not give is null. `counters`: other plugins' counters by series. */
export type HistoryPoint = { time: number } & { [F in PointField]: number | null } & { counters: Record<string, number> };

/** `name{label="value",...}`: a contributed series' key in a point. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .filter(([key]) => key !== 'box' && key !== 'tenant')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}="${value}"`);
  return pairs.length ? `${name}{${pairs.join(',')}}` : name;
}

export function pointOf(sample: BoxSample): HistoryPoint {
  const { cpu, memory, pids, io, pressure } = sample.stats;
  const sum = (key: 'readBytes' | 'writeBytes' | 'reads' | 'writes') => (io.length ? io.reduce((total, device) => total + device[key], 0) : null);
  const counters: Record<string, number> = {};
  for (const metric of sample.contributed) if (metric.type === 'counter') counters[seriesKey(metric.name, metric.labels)] = metric.value;
  return {
    time: sample.time,
    cpuUsec: cpu.usageUsec ?? null,
    cpuUserUsec: cpu.userUsec ?? null,
    cpuSystemUsec: cpu.systemUsec ?? null,
    throttledPeriods: cpu.throttledPeriods ?? null,
    throttledUsec: cpu.throttledUsec ?? null,
    memory: memory.usage ?? null,
    memoryAnon: memory.anon ?? null,
    memoryFile: memory.file ?? null,
    memoryKernel: memory.kernel ?? null,
    memorySock: memory.sock ?? null,
    swap: memory.swapUsage ?? null,
    memoryPeak: memory.peak ?? null,
    oomKills: sample.events.oomKills,
    pidsLimitHits: sample.events.pidsMax,
    pids: pids.current ?? null,
    processes: sample.census.processes,
    threads: sample.census.threads,
    openFiles: sample.census.openFiles,
    ioReadBytes: sum('readBytes'),
    ioWriteBytes: sum('writeBytes'),
    ioReads: sum('reads'),
    ioWrites: sum('writes'),
    cpuPressure: pressure?.cpu?.some.avg10 ?? null,
    memoryPressure: pressure?.memory?.some.avg10 ?? null,
    ioPressure: pressure?.io?.some.avg10 ?? null,
    diskUsed: sample.disk?.usedBytes ?? null,
    diskFree: sample.disk?.freeBytes ?? null,
    inodesUsed: sample.disk?.inodesUsed ?? null,
    inodesFree: sample.disk?.inodesFree ?? null,
    counters,
  };
}
