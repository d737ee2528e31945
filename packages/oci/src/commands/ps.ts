/** `ps [--format table|json] ID [ps options]`: the box's processes. */

import { execFileSync } from 'node:child_process';
import { NsboxError } from '@nsbox/core';
import { type CommandContext, stdout } from './context.js';

export async function psContainer(context: CommandContext, id: string, format: string, psArgs: string[]): Promise<void> {
  const box = await context.runtime.get(id);
  const pids = context.runtime.cgroups.pids(box.id);
  if (format === 'json') {
    stdout(context, `${JSON.stringify(pids)}\n`);
    return;
  }
  if (format !== 'table') throw new NsboxError('E_INVALID_ARGUMENT', `invalid format option '${format}'`, { details: { field: '--format' } });
  const output = execFileSync('ps', psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8' });
  const [header, ...lines] = output.split('\n');
  const column = (header ?? '').trim().split(/\s+/).indexOf('PID');
  if (column < 0) throw new NsboxError('E_INVALID_ARGUMENT', "couldn't find PID field in ps output", { details: { field: 'ps options' } });
  const wanted = new Set(pids.map(String));
  const rows = lines.filter((line) => wanted.has(line.trim().split(/\s+/)[column] ?? ''));
  stdout(context, `${[header, ...rows].join('\n')}\n`);
}
