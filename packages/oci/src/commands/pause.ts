/** `pause` and `resume`: the freezer, through the box driver (cgroup2's where the kernel has it, else v1's). */

import { NsboxError } from '@nsbox/core';
import { ociStatus } from '../box/oci-state.js';
import type { CommandContext } from './context.js';

export async function pauseContainer(context: CommandContext, id: string): Promise<void> {
  await context.runtime.locks.with(id, async () => {
    const box = await context.runtime.get(id);
    const status = ociStatus(box);
    if (status !== 'running' && status !== 'created') throw new NsboxError('E_INVALID_STATE', `container not running: ${status}`, { details: { id, status } });
    await context.runtime.manager.pause(box.id);
  });
}

export async function resumeContainer(context: CommandContext, id: string): Promise<void> {
  await context.runtime.locks.with(id, async () => {
    const box = await context.runtime.get(id);
    const status = ociStatus(box);
    if (status !== 'paused') throw new NsboxError('E_INVALID_STATE', `container not paused: ${status}`, { details: { id, status } });
    await context.runtime.manager.resume(box.id);
  });
}
