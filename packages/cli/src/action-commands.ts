/**
 * A plugin's action as a CLI command: `nsbox <plugin> <action>` or its `cli.command`, with the
 * arguments and options it declares. It runs through the BoxApi, so with nsboxd running it
 * is the API's action route (token, tenant policy, quotas, audit), and in local mode the same
 * action in-process; either way its input is checked by its schema, once.
 */

import { type AnyAction, describeAction, type OperationProgress, operationContext } from '@nsbox/core';
import type { CliCommand } from './command.js';

/**
 * A progress line on stderr for an operation-action: the steps so far, the current one's
 * percent and message. On a terminal it is rewritten in place; elsewhere each change is a line.
 */
export function progressLine(name: string, stream: NodeJS.WriteStream = process.stderr) {
  const steps: string[] = [];
  let last = '';
  const show = (progress: OperationProgress) => {
    if (steps[steps.length - 1] !== progress.step) steps.push(progress.step);
    const bar = progress.percent === undefined ? '' : ` [${'#'.repeat(Math.round(progress.percent / 5)).padEnd(20, '.')}] ${progress.percent}%`;
    const line = `${name}: ${steps.join(' > ')}${bar}${progress.message ? ` ${progress.message}` : ''}`;
    if (line === last) return;
    last = line;
    stream.write(stream.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const end = () => {
    if (stream.isTTY && last) stream.write('\n');
  };
  return { show, end };
}

/** Without `cli.input`: each argument is the input field of its name, the options as they are. */
function defaultInput(action: AnyAction, args: string[], options: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = { ...options };
  const declared = action.cli?.arguments ?? (action.box ? [{ name: 'box' }] : []);
  declared.forEach((argument, index) => {
    const value = 'variadic' in argument && argument.variadic ? args.slice(index) : args[index];
    if (value !== undefined) input[argument.name] = value;
  });
  return input;
}

export function actionCommand(plugin: string, action: AnyAction): CliCommand {
  const info = describeAction(plugin, action);
  const args = action.cli?.arguments ?? (action.box ? [{ name: 'box', description: 'the box (name or id)', required: true }] : []);
  return {
    name: info.command,
    description: `${action.description} (plugin ${plugin})`,
    arguments: args,
    ...(action.cli?.options ? { options: action.cli.options } : {}),
    async run(context, parsed, options) {
      const input = action.cli?.input ? action.cli.input(parsed, options) : defaultInput(action, parsed, options);
      const api = await context.api();
      if (!action.operation) return api.runAction(plugin, action.name, input);
      // Long work: a progress line, and Ctrl-C cancels it (the action decides what a cancel leaves).
      const line = progressLine(info.command);
      const controller = new AbortController();
      const interrupt = () => controller.abort();
      process.once('SIGINT', interrupt);
      try {
        return await api.runAction(plugin, action.name, input, operationContext({ signal: controller.signal, onProgress: line.show }));
      } finally {
        process.off('SIGINT', interrupt);
        line.end();
      }
    },
    ...(action.render ? { render: (result: unknown) => action.render?.(result) ?? '' } : {}),
  };
}
