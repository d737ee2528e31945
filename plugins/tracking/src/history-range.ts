/**
 * The range of a history query: `since` (a span back from now: 90s, 30m, 1h, 2d, 1w) or
 * `from` and `to` (ISO 8601 times or milliseconds since the epoch; `to` defaults to now).
 * A bad value is E_INVALID_ARGUMENT naming its field, whichever face asked.
 */

import { type BoxStatsRange, NsboxError } from '@nsbox/core';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
export const DURATION = /^(\d+)([smhdw])$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function invalid(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `${field}: ${message}`, { details: { field } });
}

export function parseDuration(text: string, field = 'since'): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw invalid(field, `'${text}' is not a duration such as 90s, 30m, 1h, 2d or 1w`);
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

/** Milliseconds since the epoch from an ISO 8601 time or a number of milliseconds. */
export function parseTime(text: string, field: string): number {
  const trimmed = text.trim();
  const time = /^\d+$/.test(trimmed) ? Number(trimmed) : ISO_TIME.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(time)) throw invalid(field, `'${text}' is not a time (ISO 8601 such as 2026-12-07T14:00:00Z, or milliseconds since the epoch)`);
  return time;
}

export function parseRange(range: BoxStatsRange, now: number): { from: number; to: number } {
  if (range.since !== undefined && (range.from !== undefined || range.to !== undefined)) {
    throw invalid('since', 'give since, or from (and to), not both');
  }
  if (range.since !== undefined) return { from: now - parseDuration(range.since), to: now };
  if (range.from === undefined) throw invalid(range.to === undefined ? 'since' : 'from', 'give since (1h) or from (and to)');
  const from = parseTime(range.from, 'from');
  const to = range.to === undefined ? now : parseTime(range.to, 'to');
  if (from > to) throw invalid('from', `${new Date(from).toISOString()} is after to (${new Date(to).toISOString()})`);
  return { from, to };
}
