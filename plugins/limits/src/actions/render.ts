/** Human output of a limits report: one row per limit, configured next to enforced and used. */

import type { LimitsReport } from '../limits-service.js';
import type { RlimitPair } from '../rlimits.js';
import { formatSize } from '../units.js';

type Row = [string, string, string, string];

const dash = '-';

function size(value: number | null | undefined): string {
  return value === undefined || value === null ? dash : formatSize(value);
}

function plain(value: unknown): string {
  return value === undefined || value === null ? dash : String(value);
}

function pair(value: RlimitPair | undefined): string {
  return value ? `${value.soft}:${value.hard}` : dash;
}

export function renderLimits(report: LimitsReport): string {
  const { configured: c, effective: e, usage: u, disk: d } = report;
  const rows: Row[] = [
    ['cpus', plain(c.cpus), e ? plain(e.cpus ?? 'unlimited') : dash, u?.cpuSeconds != null ? `${u.cpuSeconds.toFixed(1)} s` : dash],
    ['cpuWeight', plain(c.cpuWeight), e ? plain(e.cpuWeight) : dash, dash],
    ['cpuset', plain(c.cpuset), e ? plain(e.cpuset) : dash, dash],
    ['memory', size(c.memory), e ? (e.memory === null ? 'unlimited' : size(e.memory)) : dash, u ? `${size(u.memory)} (peak ${size(u.memoryPeak)})` : dash],
    ['memoryHigh', size(c.memoryHigh), e ? (e.memoryHigh === null ? 'unlimited' : size(e.memoryHigh)) : dash, dash],
    ['swap', size(c.swap), e ? (e.swap === null ? 'unlimited' : size(e.swap)) : dash, dash],
    ['pids', plain(c.pids), e ? plain(e.pids ?? 'unlimited') : dash, u ? plain(u.pids) : dash],
    ['disk', size(c.disk), d ? `${size(d.size)} (${d.backend})` : dash, d ? `${size(d.used)} (${size(d.available)} free)` : dash],
    ['inodes', plain(c.inodes), d?.inodes != null ? plain(d.inodes) : dash, d?.inodesUsed != null ? plain(d.inodesUsed) : dash],
  ];
  for (const entry of c.io ?? []) {
    const settings = (['readBps', 'writeBps', 'readIops', 'writeIops'] as const)
      .filter((key) => entry[key] !== undefined)
      .map((key) => `${key}=${key.endsWith('Bps') ? size(entry[key]) : entry[key]}`);
    rows.push([`io ${entry.device}`, settings.join(' '), e ? (e.io.length > 0 ? e.io.map((io) => io.device).join(' ') : 'none') : dash, dash]);
  }
  for (const [name, value] of Object.entries(c.rlimits ?? {})) {
    rows.push([`rlimit ${name}`, pair(value), e ? pair(e.rlimits?.[name as keyof typeof e.rlimits]) : dash, dash]);
  }
  const table = [['limit', 'configured', 'enforced', 'usage'] as Row, ...rows];
  const widths = [0, 1, 2].map((column) => Math.max(...table.map((row) => row[column]?.length ?? 0)));
  const lines = table.map((row) =>
    row
      .map((cell, column) => (column < 3 ? cell.padEnd(widths[column] ?? 0) : cell))
      .join('  ')
      .trimEnd(),
  );
  if (report.newEvents.length > 0) lines.push(`new events: ${report.newEvents.map((kind) => `limits.${kind}`).join(', ')}`);
  return lines.join('\n');
}
