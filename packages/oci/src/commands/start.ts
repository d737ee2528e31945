/** `start`: startContainer hooks, then the init helper execs the user's process; poststart. */

import { rmSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import { releaseInit } from '../box/exec-fifo.js';
import { isRunning, type OciRuntimeFacts, ociFacts } from '../box/oci-driver.js';
import { hooksOf, runHooks } from '../box/oci-hooks.js';
import { hookState, ociStatus } from '../box/oci-state.js';
import type { CommandContext } from './context.js';

const refusals: Record<string, string> = {
  creating: 'cannot start a container that is still being created',
  running: 'cannot start an already running container',
  paused: 'cannot start a paused container',
  stopped: 'cannot start a container that has stopped',
};

export async function startContainer(context: CommandContext, id: string): Promise<void> {
  const { runtime } = context;
  await runtime.locks.with(id, async () => {
    const box = await runtime.get(id);
    const status = ociStatus(box);
    if (status !== 'created')
      throw new NsboxError('E_INVALID_STATE', refusals[status] ?? `cannot start a container that is ${status}`, { details: { id, status } });
    const facts = ociFacts(box);
    const hookContext = { driver: runtime.driver, box, warn: (message: string) => context.log.warn(message) };
    await runHooks('startContainer', hooksOf(facts.spec, 'startContainer'), hookState(box, 'created'), hookContext);
    const init = (box.runtime as unknown as OciRuntimeFacts).init;
    const fifo = runtime.driver.execFifo(box);
    await releaseInit(fifo, () => isRunning(init));
    rmSync(fifo, { force: true });
    box.runtime = { ...box.runtime, oci: { ...facts, started: true } };
    box.updatedAt = Date.now();
    runtime.host.store.update(box);
    await runHooks('poststart', hooksOf(facts.spec, 'poststart'), hookState(box, 'running'), hookContext);
  });
}
