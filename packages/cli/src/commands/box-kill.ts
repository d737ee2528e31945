import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'kill',
  description: "send a signal to a box's init (default SIGTERM)",
  arguments: [{ name: 'name', required: true }, { name: 'signal' }],
  async run(context, [name, signal]) {
    const killed = await (await context.api()).kill(name as string, signal);
    return { name, signal: killed.signal };
  },
  render: (result) => `sent signal ${(result as { signal: number }).signal} to box ${(result as { name: string }).name}`,
});
