/**
 * Parsers of the cgroup files that give a box's usage beyond the basic counters: memory by
 * kind (memory.stat), CFS bursts and pressure stall information. Pure: the files' text in,
 * numbers out; a key the kernel did not write is left out.
 */

import type { PressureStats } from '@nsbox/runtime-api';

/** `key value` lines (memory.stat, cpu.stat) as a map. */
export function keyedValues(text: string | undefined): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) values.set(key, Number(value));
  }
  return values;
}

function pressureLine(line: string | undefined): PressureStats['some'] | undefined {
  if (line === undefined) return undefined;
  const fields = new Map(
    line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map((pair) => pair.split('=') as [string, string]),
  );
  const number = (key: string) => Number(fields.get(key));
  const parsed = { avg10: number('avg10'), avg60: number('avg60'), avg300: number('avg300'), totalUsec: number('total') };
  return Object.values(parsed).every(Number.isFinite) ? parsed : undefined;
}

/** `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` (and a `full` line but for cpu on old kernels). */
export function parsePressure(text: string | undefined): PressureStats | undefined {
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const some = pressureLine(lines.find((line) => line.startsWith('some ')));
  if (!some) return undefined;
  const full = pressureLine(lines.find((line) => line.startsWith('full ')));
  return full ? { some, full } : { some };
}
