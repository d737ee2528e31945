import { parseSignal } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'kill',
  description: "send a signal to a box's init (default SIGTERM)",
  arguments: [{ name: 'name', required: true }, { name: 'signal' }],
  async run(context, [name, signal]) {
    const number = parseSignal(signal);
    await (await context.host()).manager.kill(name as string, number);
    return { name, signal: number };
  },
  render: (result) => `sent signal ${(result as { signal: number }).signal} to box ${(result as { name: string }).name}`,
});
