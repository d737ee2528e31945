/** `delete [--force] ID`: the box goes with everything it had on the host; then poststop. */

import { NsboxError } from '@nsbox/core';
import { ociFacts } from '../box/oci-driver.js';
import { hooksOf, runHooks } from '../box/oci-hooks.js';
import { hookState, ociStatus } from '../box/oci-state.js';
import { checkId } from '../oci-runtime.js';
import type { CommandContext } from './context.js';

export async function deleteContainer(context: CommandContext, id: string, force: boolean): Promise<void> {
  checkId(id);
  const { runtime } = context;
  await runtime.locks.with(id, async () => {
    const found = runtime.find(id);
    if (!found) {
      if (force) return; // as runc: nothing to delete is not a failure with --force
      throw new NsboxError('E_NOT_FOUND', `container ${id} does not exist`, { details: { id } });
    }
    const box = await runtime.manager.sync(found.id);
    const status = ociStatus(box);
    // A created container is deleted without --force, as runc does (its init never ran the user's program).
    if ((status === 'running' || status === 'paused') && !force) {
      throw new NsboxError('E_INVALID_STATE', `cannot delete container ${id} that is not stopped: ${status}`, { details: { id, status } });
    }
    const facts = ociFacts(box);
    await runtime.manager.destroy(box.id, { force: true });
    runtime.forget(box);
    const hookContext = { box, env: context.caller.request.env, warn: (message: string) => context.log.warn(message) };
    await runHooks('poststop', hooksOf(facts.spec, 'poststop'), hookState(box, 'stopped'), hookContext);
  });
}
