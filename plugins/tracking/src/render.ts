/** `nsbox stats` for people; `--json` prints the result itself. */

import type { StatsResult } from './stats-action.js';
import type { BoxStatsView } from './stats-view.js';

export function bytes(value: number | null | undefined): string {
  if (value == null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

const percent = (value: number | null | undefined) => (value == null ? '-' : `${value.toFixed(1)}%`);
const number = (value: number | null | undefined) => (value == null ? '-' : String(value));

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function one(stats: BoxStatsView & { history?: NonNullable<StatsResult['stats']>['history'] }): string {
  const lines: string[] = [`box ${stats.box} (${stats.state})${stats.time ? ` at ${stats.time}` : ''}`];
  if (stats.cpu) {
    lines.push(
      `cpu       ${percent(stats.cpu.percent)} of a CPU, ${number(stats.cpu.usageSeconds)} s used (user ${number(stats.cpu.userSeconds)}, system ${number(stats.cpu.systemSeconds)}), throttled ${number(stats.cpu.throttledPeriods)} periods / ${number(stats.cpu.throttledSeconds)} s`,
      `memory    ${bytes(stats.memory.usage)} (anon ${bytes(stats.memory.anon)}, file ${bytes(stats.memory.file)}, kernel ${bytes(stats.memory.kernel)}, sock ${bytes(stats.memory.sock)}), swap ${bytes(stats.memory.swap)}, peak ${bytes(stats.memory.peak)}, OOM kills ${stats.memory.oomKills}`,
      `tasks     ${stats.processes} processes, ${stats.threads} threads, ${stats.openFiles} open files, pids ${number(stats.pids.current)} (limit hit ${stats.pids.limitHits}×), seccomp denials ${number(stats.seccompDenials)}`,
      `pressure  cpu ${percent(stats.pressure.cpu)}, memory ${percent(stats.pressure.memory)}, io ${percent(stats.pressure.io)} (some, avg10)`,
    );
    if (stats.disk) {
      const { disk } = stats;
      lines.push(
        `disk      ${bytes(disk.usedBytes)} used of ${bytes(disk.sizeBytes)}, ${bytes(disk.freeBytes)} free; inodes ${number(disk.inodesUsed)} used, ${number(disk.inodesFree)} free (${disk.own ? 'its own filesystem' : "the host's filesystem, shared"})`,
      );
    }
    for (const device of stats.io)
      lines.push(
        `io ${device.device.padEnd(6)} read ${bytes(device.readBytes)} (${device.reads} ops), written ${bytes(device.writeBytes)} (${device.writes} ops)`,
      );
    for (const [series, value] of Object.entries(stats.counters)) lines.push(`${series} ${value}`);
  }
  if (stats.history) {
    lines.push('', `history ${stats.history.from} to ${stats.history.to} (${stats.history.tier}, one point per ${stats.history.stepMs / 1000} s):`);
    lines.push(
      table([
        ['TIME', 'CPU', 'MEMORY', 'PROCS', 'READ/s', 'WRITE/s', 'DISK'],
        ...stats.history.points.map((point) => [
          point.time,
          percent(point.cpuPercent),
          bytes(point.memory),
          number(point.processes),
          bytes(point.ioReadBytesPerSecond),
          bytes(point.ioWriteBytesPerSecond),
          bytes(point.diskUsed),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

export function renderStats(result: StatsResult): string {
  if (result.stats) return one(result.stats);
  return table([
    ['BOX', 'STATE', 'CPU', 'MEMORY', 'PROCS', 'THREADS', 'FILES', 'DISK'],
    ...(result.boxes ?? []).map((box) => [
      box.box,
      box.state,
      percent(box.cpu?.percent),
      bytes(box.memory?.usage),
      number(box.processes),
      number(box.threads),
      number(box.openFiles),
      bytes(box.disk?.usedBytes),
    ]),
  ]);
}
