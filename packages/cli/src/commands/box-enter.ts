import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'enter',
  description: 'open an interactive shell inside a running box',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '--shell <path>', description: 'shell to run', defaultValue: '/bin/sh' }],
  async run(context, [name], options) {
    return (await context.terminal()).run(name as string, { command: [options.shell as string, '-l'], tty: Boolean(process.stdin.isTTY) });
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
