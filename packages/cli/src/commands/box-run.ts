import type { BoxApi } from '@nsbox/core';
import { exitStatus } from '../box-helpers.js';
import { defineCommand } from '../command.js';
import { boxConfigFromOptions, boxDefinitionOptions } from './box-options.js';

/** How long `--rm` waits for the box's stop to finish being recorded. */
const SETTLE_MS = 10_000;

/**
 * The box has exited, but its stop may still be running where nsboxd (or the box's shim)
 * records it — the plugins' stop hooks after the state was saved — and a destroy then is
 * refused as busy (E_BUSY). `--rm` waits for it and destroys the box then.
 */
async function destroyOnceSettled(api: BoxApi, name: string): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      await api.destroy(name, { force: true });
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'E_BUSY' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

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
      if (options.rm && created) await destroyOnceSettled(api, boxName);
    }
  },
  render: () => '',
  exitCode: (result) => (result as { exitCode: number }).exitCode,
});
