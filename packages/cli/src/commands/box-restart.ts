import { seconds, summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'restart',
  description: 'stop and start a box',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '--timeout <seconds>', description: 'seconds to wait after SIGTERM', defaultValue: '10' }],
  async run(context, [name], options) {
    return summarize(await (await context.api()).restart(name as string, { timeout: seconds(options.timeout) }));
  },
  render: (result) => `restarted box ${(result as { name: string }).name}`,
});
