import { exitStatus, followLog } from '@nsbox/runtime';
import { linuxDriver } from '../box-helpers.js';
import { defineCommand } from '../command.js';
import { boxConfigFromOptions, boxDefinitionOptions } from './box-options.js';

export default defineCommand({
  name: 'run',
  description: 'create and start a box, print its output, wait for it to exit (--rm: then destroy it)',
  arguments: [
    { name: 'name', required: true },
    { name: 'command', variadic: true },
  ],
  options: [...boxDefinitionOptions, { flags: '--rm', description: 'destroy the box when it exits' }],
  async run(context, [name, ...command], options) {
    const host = await context.host();
    const driver = linuxDriver(host);
    const boxName = name as string;
    await host.manager.create({ name: boxName, owner: (options.owner as string) ?? null, config: boxConfigFromOptions(options, command) });
    let output = '';
    try {
      const box = await host.manager.start(boxName);
      await followLog(
        driver.files(box).consoleLog,
        (chunk) => {
          if (context.options.json) output += chunk.toString('utf8');
          else process.stdout.write(chunk);
        },
        () => driver.exit(box) !== undefined,
      );
      const exit = driver.exit(box);
      const stopped = await host.manager.sync(boxName);
      return { name: boxName, exitCode: exitStatus(exit) ?? 0, exit, state: stopped.state, ...(context.options.json ? { output } : {}) };
    } finally {
      if (options.rm) await host.manager.destroy(boxName, { force: true });
    }
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
