/** Signal names and numbers, as every face accepts them: `TERM`, `SIGTERM`, `15`, `RTMIN+2`. */

import { constants } from 'node:os';
import { NsboxError } from '@nsbox/core';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

function unknownSignal(signal: unknown): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `unknown signal '${signal}'`, {
    details: { field: 'signal', signal, issues: [{ path: 'signal', message: `unknown signal '${signal}'` }] },
  });
}

export function signalNumber(signal: string | number | undefined, fallback = 'SIGTERM'): number {
  const raw = String(signal ?? fallback).toUpperCase();
  if (/^\d+$/.test(raw)) {
    const number = Number(raw);
    if (number >= 1 && number <= SIGRTMAX) return number;
    throw unknownSignal(signal);
  }
  const name = raw.startsWith('SIG') ? raw : `SIG${raw}`;
  const realtime = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (realtime) {
    const number = name.startsWith('SIGRTMIN') ? SIGRTMIN + Number(realtime[1] ?? 0) : SIGRTMAX - Number(realtime[1] ?? 0);
    if (number >= SIGRTMIN && number <= SIGRTMAX) return number;
    throw unknownSignal(signal);
  }
  const number = (constants.signals as Record<string, number>)[name];
  if (number === undefined) throw unknownSignal(signal);
  return number;
}
