import { summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';
import { boxConfigFromOptions, boxDefinitionOptions } from './box-options.js';

export default defineCommand({
  name: 'create',
  description: 'create a box from a template or a rootfs directory (init: the command after --, default /sbin/init)',
  arguments: [
    { name: 'name', required: true },
    { name: 'command', variadic: true },
  ],
  options: boxDefinitionOptions,
  async run(context, [name, ...command], options) {
    const host = await context.host();
    const box = await host.manager.create({ name: name as string, owner: (options.owner as string) ?? null, config: boxConfigFromOptions(options, command) });
    return summarize(box);
  },
  render: (result) => `created box ${(result as { name: string }).name}`,
});
