/**
 * `run`: create + start. In the foreground the caller (the native front) is the init's
 * reaper: it waits, relays a terminal and forwards signals; the box is deleted when its init
 * exits and `run` exits with the init's status, as runc does.
 */

import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import type { CommandContext } from './context.js';
import { type CreateOptions, createContainer } from './create.js';
import { deleteContainer } from './delete.js';
import { startContainer } from './start.js';

export async function runContainer(context: CommandContext, id: string, options: CreateOptions & { detach?: boolean; keep?: boolean }): Promise<number> {
  const box = await createContainer(context, id, { ...options, foreground: !options.detach });
  try {
    await startContainer(context, id);
  } catch (error) {
    await deleteContainer(context, id, true).catch(() => undefined);
    throw error;
  }
  if (options.detach) return 0;
  const init = (box.runtime as LinuxRuntimeFacts).init;
  const exited = init ? await context.caller.wait(init.pid) : { status: -1 };
  if (!options.keep) await deleteContainer(context, id, true);
  return exited.status < 0 ? 1 : exited.status;
}
