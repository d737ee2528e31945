import { execInBox } from '@nsbox/runtime';
import { collect, linuxDriver, parseEnv } from '../box-helpers.js';
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
    const host = await context.host();
    const box = await host.manager.sync(name as string);
    const env = parseEnv(options.env);
    const user = typeof options.user === 'string' ? options.user.split(':').map(Number) : undefined;
    const result = await execInBox(linuxDriver(host), box, {
      args: command,
      tty: Boolean(options.tty),
      stdio: context.options.json ? 'pipe' : 'inherit',
      ...(env
        ? {
            env: [
              ...((box.runtime.spec as { process: { env: string[] } } | undefined)?.process.env ?? []),
              ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            ],
          }
        : {}),
      ...(options.cwd ? { cwd: options.cwd as string } : {}),
      ...(user ? { user: { uid: user[0] ?? 0, gid: user[1] ?? user[0] ?? 0 } } : {}),
    });
    return result;
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
