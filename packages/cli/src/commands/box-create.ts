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
    const api = await context.api();
    const box = await api.create({
      name: name as string,
      config: boxConfigFromOptions(options, command, context.boxOptions),
      ...(options.owner ? { owner: options.owner as string } : {}),
    });
    return summarize(box);
  },
  render: (result) => `created box ${(result as { name: string }).name}`,
});
