import type { BoxState } from '@nsbox/core';
import { type BoxSummary, summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';
import { table } from '../render.js';

export default defineCommand({
  name: 'list',
  description: 'list boxes',
  options: [
    { flags: '--owner <tenant>', description: 'only boxes of this tenant' },
    { flags: '--state <state>', description: 'only boxes in this state' },
  ],
  async run(context, _args, options) {
    const boxes = await (await context.api()).list({
      ...(options.owner ? { owner: options.owner as string } : {}),
      ...(options.state ? { state: options.state as BoxState } : {}),
    });
    return boxes.map(summarize);
  },
  render(result) {
    const boxes = result as BoxSummary[];
    if (boxes.length === 0) return 'no boxes';
    return table(
      ['NAME', 'STATE', 'PID', 'OWNER', 'SOURCE'],
      boxes.map((box) => [box.name, box.state, box.pid ? String(box.pid) : '-', box.owner ?? '-', box.template ?? box.rootfs ?? '-']),
    );
  },
});
