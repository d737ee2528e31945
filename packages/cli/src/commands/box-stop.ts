import { summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'stop',
  description: 'stop a box: SIGTERM to its init, then SIGKILL to everything after the timeout',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '--timeout <seconds>', description: 'seconds to wait after SIGTERM', defaultValue: '10' }],
  async run(context, [name], options) {
    const timeoutMs = Number(options.timeout) * 1000;
    return summarize(await (await context.host()).manager.stop(name as string, { timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : 10_000 }));
  },
  render: (result) => `stopped box ${(result as { name: string }).name}`,
});
