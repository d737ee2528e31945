import { execInBox } from '@nsbox/runtime';
import { linuxDriver } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'enter',
  description: 'open an interactive shell inside a running box',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '--shell <path>', description: 'shell to run', defaultValue: '/bin/sh' }],
  async run(context, [name], options) {
    const host = await context.host();
    const box = await host.manager.sync(name as string);
    return execInBox(linuxDriver(host), box, { args: [options.shell as string, '-l'], tty: Boolean(process.stdin.isTTY), stdio: 'inherit' });
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
