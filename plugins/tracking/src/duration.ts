/** `--since 90s|30m|1h|2d|1w`: a span back from now. */

import { NsboxError } from '@nsbox/core';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
export const DURATION = /^(\d+)([smhdw])$/;

export function parseDuration(text: string, field = 'since'): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new NsboxError('E_INVALID_ARGUMENT', `${field}: '${text}' is not a duration such as 90s, 30m, 1h, 2d or 1w`, { details: { field } });
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}
