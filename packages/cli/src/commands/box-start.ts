import { summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'start',
  description: 'start a box',
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    return summarize(await (await context.api()).start(name as string));
  },
  render: (result) => `started box ${(result as { name: string; pid: number }).name} (init pid ${(result as { pid: number }).pid})`,
});
