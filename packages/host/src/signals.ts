/** Signal names and numbers, as every face accepts them: `TERM`, `SIGTERM`, `15`. */

import { constants } from 'node:os';
import { NsboxError } from '@nsbox/core';

export function signalNumber(signal: string | number | undefined, fallback = 'SIGTERM'): number {
  if (typeof signal === 'number') return signal;
  const raw = (signal ?? fallback).toUpperCase();
  if (/^\d+$/.test(raw)) return Number(raw);
  const name = (raw.startsWith('SIG') ? raw : `SIG${raw}`) as keyof typeof constants.signals;
  const number = constants.signals[name];
  if (number === undefined) {
    throw new NsboxError('E_INVALID_ARGUMENT', `unknown signal '${signal}'`, {
      details: { field: 'signal', signal, issues: [{ path: 'signal', message: `unknown signal '${signal}'` }] },
    });
  }
  return number;
}
