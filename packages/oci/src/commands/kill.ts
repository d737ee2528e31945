/** `kill ID [SIGNAL] [--all]`: a signal to the init, or to every process of the box. */

import { NsboxError } from '@nsbox/core';
import { signalNumber } from '@nsbox/host';
import { ociStatus } from '../box/oci-state.js';
import type { CommandContext } from './context.js';

/** 'TERM', 'SIGTERM', '15', 'RTMIN+1' → a number (the faces' one table); runc's words when unknown. */
export function parseSignal(text: string): number {
  try {
    return signalNumber(text);
  } catch {
    throw new NsboxError('E_INVALID_ARGUMENT', `unknown signal "${text}"`, { details: { field: 'signal' } });
  }
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
