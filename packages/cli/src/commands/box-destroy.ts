import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'destroy',
  description: 'destroy a stopped box and everything nsbox made for it (--force stops it first)',
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '-f, --force', description: 'stop the box first if it is running' }],
  async run(context, [name], options) {
    await (await context.api()).destroy(name as string, { force: Boolean(options.force) });
    return { name, destroyed: true };
  },
  render: (result) => `destroyed box ${(result as { name: string }).name}`,
});
