import { seconds, summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'stop',
  description: 'stop a box: SIGTERM to its init, then SIGKILL to everything after the timeout',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '--timeout <seconds>', description: 'seconds to wait after SIGTERM', defaultValue: '10' }],
  async run(context, [name], options) {
    return summarize(await (await context.api()).stop(name as string, { timeout: seconds(options.timeout) }));
  },
  render: (result) => `stopped box ${(result as { name: string }).name}`,
});
