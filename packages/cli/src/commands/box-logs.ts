import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'logs',
  description: "print a box's console output (-f: follow until it stops)",
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '-f, --follow', description: 'keep printing new output until the box stops' }],
  async run(context, [name], options) {
    const api = await context.api();
    if (context.options.json) {
      const box = await api.get(name as string);
      return { name: box.name, log: await api.logs(box.id) };
    }
    if (!options.follow) process.stdout.write(await api.logs(name as string));
    else for await (const chunk of api.followLogs(name as string)) process.stdout.write(chunk);
    return undefined;
  },
});
