import { collect, parseEnv, parseUser } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'exec',
  description: 'run a command inside a running box: nsbox exec NAME [-t] -- CMD...',
  arguments: [
    { name: 'name', required: true },
    { name: 'command', variadic: true, required: true },
  ],
  options: [
    { flags: '-t, --tty', description: 'allocate a terminal' },
    { flags: '-e, --env <KEY=VALUE>', description: 'extra environment variable (repeatable)', parse: collect },
    { flags: '--cwd <dir>', description: 'working directory' },
    { flags: '--user <uid:gid>', description: 'user inside the box' },
  ],
  async run(context, [name, ...command], options) {
    const env = parseEnv(options.env);
    const user = parseUser(options.user);
    const request = { command, ...(env ? { env } : {}), ...(options.cwd ? { cwd: options.cwd as string } : {}), ...(user ? { user } : {}) };
    // --json captures the output; otherwise the command gets this terminal.
    if (context.options.json) return (await context.api()).exec(name as string, request);
    return (await context.terminal()).run(name as string, { ...request, tty: Boolean(options.tty) });
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
