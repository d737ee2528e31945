/** `state ID`: the OCI state JSON. */

import { ociState } from '../box/oci-state.js';
import { type CommandContext, stdout } from './context.js';

export async function showState(context: CommandContext, id: string): Promise<void> {
  const box = await context.runtime.get(id);
  stdout(context, `${JSON.stringify(ociState(box), null, 2)}\n`);
}
