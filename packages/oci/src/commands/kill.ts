/** `kill ID [SIGNAL] [--all]`: a signal to the init, or to every process of the box. */

import { constants } from 'node:os';
import { NsboxError } from '@nsbox/core';
import { ociStatus } from '../box/oci-state.js';
import type { CommandContext } from './context.js';

/** 'TERM', 'SIGTERM', '15' → 15; runc's default is SIGTERM. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    if (number >= 1 && number <= 64) return number;
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const number = (constants.signals as Record<string, number>)[name];
  if (number === undefined) throw new NsboxError('E_INVALID_ARGUMENT', `unknown signal "${text}"`, { details: { field: 'signal' } });
  return number;
}

export async function killContainer(context: CommandContext, id: string, signalText: string | undefined, all: boolean): Promise<void> {
  const { runtime } = context;
  const signal = parseSignal(signalText ?? 'SIGTERM');
  await runtime.locks.with(id, async () => {
    const box = await runtime.get(id);
    const status = ociStatus(box);
    if (status === 'stopped' || status === 'creating') throw new NsboxError('E_INVALID_STATE', 'container not running', { details: { id, status } });
    if (!all) {
      await runtime.manager.kill(box.id, signal);
      return;
    }
    for (const pid of runtime.cgroups.pids(box.id)) {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  });
}
