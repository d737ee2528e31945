/** `list [--format table|json] [--quiet]`: the containers of this --root. */

import { NsboxError } from '@nsbox/core';
import { ociState } from '../box/oci-state.js';
import { OCI_ID_ANNOTATION } from '../oci-runtime.js';
import { type CommandContext, stdout } from './context.js';

export async function listContainers(context: CommandContext, format: string, quiet: boolean): Promise<void> {
  const { runtime } = context;
  const states = [];
  for (const listed of runtime.manager.list()) {
    if (!listed.config.annotations?.[OCI_ID_ANNOTATION]) continue;
    const box = await runtime.manager.sync(listed.id).catch(() => listed);
    states.push(ociState(box));
  }
  if (quiet) {
    stdout(context, states.map((state) => `${state.id}\n`).join(''));
    return;
  }
  if (format === 'json') {
    stdout(context, `${JSON.stringify(states)}\n`);
    return;
  }
  if (format !== 'table') throw new NsboxError('E_INVALID_ARGUMENT', `invalid format option '${format}'`, { details: { field: '--format' } });
  const rows = [
    ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...states.map((state) => [state.id, String(state.pid), state.status, state.bundle, state.created, state.owner || 'root']),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] as string).length))) ?? [];
  stdout(
    context,
    rows
      .map(
        (row) =>
          `${row
            .map((cell, column) => cell.padEnd((widths[column] ?? 0) + 3))
            .join('')
            .trimEnd()}\n`,
      )
      .join(''),
  );
}
