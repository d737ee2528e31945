/**
 * Parsers of the cgroup files that give a box's usage beyond the basic counters: memory by
 * kind (memory.stat), CFS bursts and pressure stall information. Pure: the files' text in,
 * numbers out; a key the kernel did not write is left out.
 */

import type { PressureStats } from '@nsbox/runtime-api';

/** A `key count` line (the count may be followed by more fields, which are left). */
const KEYED_LINE = /^[ \t]*(\S+)[ \t]+(\d+)(?:[ \t].*)?$/gm;

/**
 * `key value` lines (memory.stat, cpu.stat) as a map. One pass of one expression over the
 * text: the sampler parses a few of these per box each round.
 */
export function keyedValues(text: string | undefined): Map<string, number> {
  const values = new Map<string, number>();
  if (text === undefined) return values;
  for (const [, key, value] of text.matchAll(KEYED_LINE)) values.set(key as string, Number(value));
  return values;
}

/** `key=value` fields of a pressure line. */
const PRESSURE_FIELD = /(\w+)=(\S+)/g;

function pressureLine(line: string | undefined): PressureStats['some'] | undefined {
  if (line === undefined) return undefined;
  const fields: Record<string, string> = {};
  for (const [, key, value] of line.matchAll(PRESSURE_FIELD)) fields[key as string] = value as string;
  const parsed = { avg10: Number(fields['avg10']), avg60: Number(fields['avg60']), avg300: Number(fields['avg300']), totalUsec: Number(fields['total']) };
  return Number.isFinite(parsed.avg10) && Number.isFinite(parsed.avg60) && Number.isFinite(parsed.avg300) && Number.isFinite(parsed.totalUsec)
    ? parsed
    : undefined;
}

/** `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` (and a `full` line but for cpu on old kernels). */
export function parsePressure(text: string | undefined): PressureStats | undefined {
  if (text === undefined) return undefined;
  const some = pressureLine(lineStarting(text, 'some '));
  if (!some) return undefined;
  const full = pressureLine(lineStarting(text, 'full '));
  return full ? { some, full } : { some };
}

/** The line of `text` that starts with `prefix`, without its newline. */
function lineStarting(text: string, prefix: string): string | undefined {
  const start = text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`) + 1;
  if (start === 0 && !text.startsWith(prefix)) return undefined;
  const end = text.indexOf('\n', start);
  return text.slice(start, end === -1 ? undefined : end);
}
