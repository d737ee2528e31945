import { followLog } from '@nsbox/runtime';
import { linuxDriver } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'logs',
  description: "print a box's console output (-f: follow until it stops)",
  arguments: [{ name: 'name', required: true }],
  options: [{ flags: '-f, --follow', description: 'keep printing new output until the box stops' }],
  async run(context, [name], options) {
    const host = await context.host();
    const driver = linuxDriver(host);
    const box = await host.manager.sync(name as string);
    if (context.options.json) return { name: box.name, log: driver.logs(box) };
    const stillRunning = () => driver.exit(box) === undefined && (box.state === 'running' || box.state === 'paused');
    await followLog(
      driver.files(box).consoleLog,
      (chunk) => process.stdout.write(chunk),
      () => !options.follow || !stillRunning(),
    );
    return undefined;
  },
});
