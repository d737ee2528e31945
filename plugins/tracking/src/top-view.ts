/**
 * `nsbox top`'s screen: every box with its CPU share, memory, IO and network rates between
 * two refreshes, and processes, sorted by a column the user picks. Pure: two `stats --all`
 * results in, lines out.
 */

import { bytes } from './render.js';
import type { StatsResult } from './stats-action.js';

export type TopSort = 'cpu' | 'memory' | 'processes' | 'name';

export const sortKeys: Record<string, TopSort> = { c: 'cpu', m: 'memory', p: 'processes', n: 'name' };

type Entry = NonNullable<StatsResult['boxes']>[number];

export interface TopRow {
  box: string;
  state: string;
  cpu: number | null;
  memory: number | null;
  ioPerSecond: number | null;
  netPerSecond: number | null;
  processes: number | null;
}

const ioBytes = (entry: Entry | undefined) => (entry?.io ? entry.io.reduce((total, device) => total + device.readBytes + device.writeBytes, 0) : undefined);
const netBytes = (entry: Entry | undefined) => {
  const values = Object.entries(entry?.counters ?? {})
    .filter(([series]) => /^nsbox_box_network_(receive|transmit)_bytes_total/.test(series))
    .map(([, value]) => value);
  return values.length ? values.reduce((total, value) => total + value, 0) : undefined;
};

function perSecond(now: number | undefined, before: number | undefined, seconds: number): number | null {
  if (now === undefined || before === undefined || now < before || seconds <= 0) return null;
  return (now - before) / seconds;
}

export function topRows(current: StatsResult, previous: StatsResult | undefined, seconds: number, sort: TopSort): TopRow[] {
  const before = new Map((previous?.boxes ?? []).map((entry) => [entry.box, entry]));
  const rows = (current.boxes ?? []).map((entry) => ({
    box: entry.box,
    state: entry.state,
    cpu: entry.cpu?.percent ?? null,
    memory: entry.memory?.usage ?? null,
    ioPerSecond: perSecond(ioBytes(entry), ioBytes(before.get(entry.box)), seconds),
    netPerSecond: perSecond(netBytes(entry), netBytes(before.get(entry.box)), seconds),
    processes: entry.processes ?? null,
  }));
  const key: Record<TopSort, (row: TopRow) => number | string> = {
    cpu: (row) => -(row.cpu ?? -1),
    memory: (row) => -(row.memory ?? -1),
    processes: (row) => -(row.processes ?? -1),
    name: (row) => row.box,
  };
  return rows.sort((a, b) => {
    const [x, y] = [key[sort](a), key[sort](b)];
    return x < y ? -1 : x > y ? 1 : a.box.localeCompare(b.box);
  });
}

export function topScreen(rows: readonly TopRow[], sort: TopSort, time: Date): string {
  const cells = rows.map((row) => [
    row.box,
    row.state,
    row.cpu === null ? '-' : `${row.cpu.toFixed(1)}%`,
    bytes(row.memory),
    row.ioPerSecond === null ? '-' : `${bytes(row.ioPerSecond)}/s`,
    row.netPerSecond === null ? '-' : `${bytes(row.netPerSecond)}/s`,
    row.processes === null ? '-' : String(row.processes),
  ]);
  const header = ['BOX', 'STATE', 'CPU', 'MEMORY', 'IO', 'NET', 'PROCS'];
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    `nsbox top — ${rows.length} boxes — ${time.toISOString()} — sorted by ${sort} (c cpu, m memory, p processes, n name; q quits)`,
    '',
    line(header),
    ...cells.map(line),
  ].join('\n');
}
