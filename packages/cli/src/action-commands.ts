/**
 * A plugin's action as a CLI command: `nsbox <plugin> <action>` or its `cli.command`, with the
 * arguments and options it declares. It runs through the BoxApi, so with nsboxd running it
 * is the API's action route (token, tenant policy, quotas, audit), and in local mode the same
 * action in-process; either way its input is checked by its schema, once.
 */

import { type AnyAction, describeAction } from '@nsbox/core';
import type { CliCommand } from './command.js';

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
      return (await context.api()).runAction(plugin, action.name, input);
    },
    ...(action.render ? { render: (result: unknown) => action.render?.(result) ?? '' } : {}),
  };
}
