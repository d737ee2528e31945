import { exitStatus } from '../box-helpers.js';
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
    const api = await context.api();
    const boxName = name as string;
    const json = Boolean(context.options.json);
    let created = false;
    let output = '';
    try {
      // One operation: a start that fails leaves no box behind.
      await api.create({
        name: boxName,
        config: boxConfigFromOptions(options, command, context.boxOptions),
        start: true,
        ...(options.owner ? { owner: options.owner as string } : {}),
      });
      created = true;
      const decoder = new TextDecoder();
      for await (const chunk of api.followLogs(boxName)) {
        if (json) output += decoder.decode(chunk, { stream: true });
        else process.stdout.write(chunk);
      }
      if (json) output += decoder.decode();
      const box = await api.get(boxName);
      const exit = box.runtime.lastExit as Parameters<typeof exitStatus>[0];
      return { name: boxName, exitCode: exitStatus(exit) ?? 0, exit, state: box.state, ...(json ? { output } : {}) };
    } finally {
      if (options.rm && created) await api.destroy(boxName, { force: true });
    }
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
