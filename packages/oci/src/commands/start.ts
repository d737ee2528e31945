/**
 * `start`: the held init runs the startContainer hooks and execs the user's process
 * (native/src/launcher-hold.c); then poststart. As the runtime spec words it, a failing
 * poststart hook is logged and the lifecycle goes on (runc fails `start` instead).
 */

import { NsboxError } from '@nsbox/core';
import { releaseInit, removeTreeSync } from '@nsbox/runtime';
import { ociFacts } from '../box/oci-driver.js';
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
    const socket = runtime.driver.startSocket(box);
    await releaseInit(socket);
    removeTreeSync(socket);
    box.runtime = { ...box.runtime, oci: { ...facts, started: true } };
    box.updatedAt = Date.now();
    runtime.host.store.update(box);
    const hookContext = { box, env: context.caller.request.env, warn: (message: string) => context.log.warn(message) };
    await runHooks('poststart', hooksOf(facts.spec, 'poststart'), hookState(box, 'running'), hookContext);
  });
}
