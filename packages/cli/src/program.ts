/** Builds the `nsbox` command line from the built-in commands and the plugins' commands. */

import type { CommandContribution } from '@nsbox/core';
import { CORE_API_VERSION, isNsboxError, NsboxError, toNsboxError } from '@nsbox/core/light';
import { Command, CommanderError } from 'commander';
import { asLocalError } from './api-error.js';
import { CliContext, type DriverFactory, type GlobalOptions } from './cli-context.js';
import type { CliCommand } from './command.js';
import { pluginBoxOptions } from './commands/box-options.js';
import { setCommand } from './commands/box-set.js';
import { builtinCommands } from './commands/index.js';
import { findDaemon } from './remote-daemon.js';
import { version } from './version.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
};

/** Global options are read before the host opens, because plugins add commands. */
export function preScan(argv: string[]): GlobalOptions & { words: string[]; flags: string[] } {
  const options: GlobalOptions & { words: string[]; flags: string[] } = { words: [], flags: [] };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') break;
    const [flag, inline] = arg.includes('=') ? (arg.split(/=(.*)/s) as [string, string]) : [arg, undefined];
    const value = () => inline ?? argv[++index];
    if (flag === '--state-dir') options.stateDir = value();
    else if (flag === '--host-config') options.hostConfig = value();
    else if (flag === '--plugin-path') options.pluginPath = [...(options.pluginPath ?? []), value() as string];
    else if (flag === '--json') options.json = true;
    else if (flag === '--debug') options.debug = true;
    else if (flag === '--local') options.local = true;
    else if (flag.startsWith('-')) options.flags.push(flag);
    else options.words.push(flag);
  }
  return options;
}

/** A command's option flags as typed: `-e, --env <KEY=VALUE>` → `-e`, `--env`. */
function flagsOf(command: CliCommand): string[] {
  return (command.options ?? []).flatMap((option) => option.flags.split(/[ ,|]+/).filter((part) => part.startsWith('-')));
}

/**
 * Whether the command line needs the plugins to be parsed: a command that is not a built-in
 * (a plugin's), an option a built-in does not have (a plugin's option of create/run), or help
 * (which lists them). Any other command parses without the host, so one that nsboxd serves
 * never loads the plugins, and a local one loads them only when it opens the host.
 */
export function needsPlugins(scan: { words: string[]; flags: string[] }, builtins: readonly CliCommand[]): boolean {
  const [word] = scan.words;
  if (scan.flags.some((flag) => flag === '-h' || flag === '--help') || word === 'help') return true;
  // No command: help, unless it asks for the version alone.
  if (word === undefined) return scan.flags.length === 0 || !scan.flags.every((flag) => flag === '-V' || flag === '--version');
  const candidates = builtins.filter((command) => command.name.split(' ')[0] === word);
  if (candidates.length === 0) return true;
  const known = new Set(['-V', '--version', ...candidates.flatMap(flagsOf)]);
  return scan.flags.some((flag) => !known.has(flag));
}

/** The command line names a command that is not a built-in (a plugin's), without asking for help. */
export function namesPluginCommand(scan: { words: string[]; flags: string[] }, builtins: readonly CliCommand[]): boolean {
  const [word] = scan.words;
  if (word === undefined || word === 'help' || scan.flags.some((flag) => flag === '-h' || flag === '--help')) return false;
  return !builtins.some((command) => command.name.split(' ')[0] === word);
}

function fromContribution(contribution: CommandContribution, plugin: string): CliCommand {
  return {
    name: contribution.name,
    description: `${contribution.description} (plugin ${plugin})`,
    ...(contribution.arguments ? { arguments: contribution.arguments } : {}),
    ...(contribution.options ? { options: contribution.options } : {}),
    run: async (context, args, options) => contribution.run({ args, options, services: await context.services(), api: () => context.api() }),
    ...(contribution.render ? { render: contribution.render } : {}),
  };
}

function addCommand(program: Command, command: CliCommand, context: CliContext, io: CliIo, outcome: { exitCode: number }): void {
  const words = command.name.split(' ');
  let parent = program;
  for (const word of words.slice(0, -1)) {
    parent = parent.commands.find((existing) => existing.name() === word) ?? parent.command(word).description(`${word} commands`);
  }
  // A plugin cannot take over a command that is already there (a built-in, another plugin's).
  if (parent.commands.some((existing) => existing.name() === words.at(-1))) return;
  const sub = parent.command(words.at(-1) as string).description(command.description);
  for (const argument of command.arguments ?? []) {
    const name = `${argument.name}${argument.variadic ? '...' : ''}`;
    sub.argument(argument.required ? `<${name}>` : `[${name}]`, argument.description ?? '');
  }
  for (const option of command.options ?? []) {
    if (option.parse) sub.option(option.flags, option.description, option.parse, option.defaultValue);
    else sub.option(option.flags, option.description, option.defaultValue as string);
  }
  if (command.passThrough) sub.passThroughOptions();
  sub.action(async (...received: unknown[]) => {
    const self = received.at(-1) as Command;
    const options = self.opts();
    const args =
      self.args.length > 0 && command.passThrough
        ? self.args
        : (received
            .slice(0, -2)
            .flat()
            .filter((v) => v !== undefined) as string[]);
    const result = await command.run(context, args.map(String), options);
    if (context.options.json) io.stdout(JSON.stringify(result ?? null, null, 2));
    else if (command.render) {
      const text = command.render(result);
      if (text) io.stdout(text);
    } else if (result !== undefined) io.stdout(typeof result === 'string' ? result : JSON.stringify(result, null, 2));
    outcome.exitCode = command.exitCode?.(result) ?? 0;
  });
}

export interface RunCliOptions {
  io?: CliIo;
  driver?: DriverFactory;
  /** Extra commands (faces built on the CLI, such as the box commands of the runtime). */
  commands?: CliCommand[];
}

/** Runs the CLI; returns the exit code instead of exiting, so tests and embedders can call it. */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<number> {
  const io = options.io ?? defaultIo;
  const globals = preScan(argv);
  const builtins = [...builtinCommands, ...(options.commands ?? [])];
  const withPlugins = needsPlugins(globals, builtins);
  // `--version` alone asks nothing of nsboxd.
  const versionOnly = globals.words.length === 0 && !withPlugins;
  const context = new CliContext(globals, options.driver, versionOnly ? undefined : await findDaemon(globals));
  const outcome = { exitCode: 0 };
  const program = new Command('nsbox')
    .description('nsbox: virtual-server boxes on a stock Linux kernel')
    .version(`nsbox ${version} (plugin API ${CORE_API_VERSION})`, '-V, --version', 'print the version of nsbox and of its plugin API')
    .option('--state-dir <dir>', 'state directory (default $NSBOX_STATE_DIR or /var/lib/nsbox)')
    .option('--host-config <file>', 'host config file (default <state-dir>/host.json)')
    .option('--plugin-path <dir>', 'extra node_modules folder to search for plugins (repeatable)')
    .option('--json', 'print results as JSON')
    .option('--debug', 'print stack traces and debug details')
    .option('--local', 'work on the state directory even when nsboxd serves it (box commands go through nsboxd otherwise)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text.trimEnd()), writeErr: (text) => io.stderr(text.trimEnd()) });

  // The host opens first when the command line needs the plugins: they add commands, and
  // options to create and run (boxOptionPoint) and to set (setOptionPoint). Through nsboxd, a
  // plugin's action runs there: parsing and rendering it takes the plugins' definitions alone.
  const definitions = withPlugins && context.remote && namesPluginCommand(globals, builtins) ? await context.plugins().catch(() => undefined) : undefined;
  const actionsOnly = definitions?.every((plugin) => !plugin.commands.some((command) => command.name.split(' ')[0] === globals.words[0])) ?? false;
  const host = withPlugins && !actionsOnly ? await context.host().catch(() => undefined) : undefined;
  if (host) {
    const { boxOptionPoint, setOptionPoint } = await import('@nsbox/core');
    context.boxOptions = host.plugins.contributions(boxOptionPoint);
    context.setOptions = host.plugins.contributions(setOptionPoint);
  }
  const withPluginOptions = (command: CliCommand): CliCommand => {
    if (command.name === 'set') return setCommand(context.setOptions);
    return ['create', 'run'].includes(command.name) && context.boxOptions.length > 0
      ? { ...command, options: [...(command.options ?? []), ...pluginBoxOptions(context.boxOptions)] }
      : command;
  };
  for (const command of builtins) addCommand(program, withPluginOptions(command), context, io, outcome);
  try {
    const plugins = actionsOnly ? definitions : host?.plugins.plugins.map((plugin) => plugin.definition);
    if (!plugins) throw new Error('no host');
    const { actionCommand } = await import('./action-commands.js');
    for (const plugin of plugins) {
      for (const action of plugin.actions ?? []) addCommand(program, actionCommand(plugin.name, action), context, io, outcome);
      // A plugin's own commands run on the host (none of them is the command given when actionsOnly).
      if (host) for (const contribution of plugin.commands) addCommand(program, fromContribution(contribution, plugin.name), context, io, outcome);
    }
  } catch {
    // The host could not open (bad host config, broken plugin): built-in commands still
    // run, and the first one that needs the host reports the error.
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : errorExit(new NsboxError('E_INVALID_ARGUMENT', error.message.replace(/^error: /, '')), globals, io, true);
    }
    return errorExit(toNsboxError(asLocalError(error)), globals, io);
  } finally {
    await context.close();
  }
}

function errorExit(error: NsboxError, globals: GlobalOptions, io: CliIo, alreadyPrinted = false): number {
  if (globals.json) io.stdout(JSON.stringify({ error: error.toJSON() }, null, 2));
  else if (!alreadyPrinted) io.stderr(`nsbox: ${error.message}${isNsboxError(error) ? ` [${error.code}]` : ''}`);
  if (globals.debug && error.stack) io.stderr(error.stack);
  return error.exitCode;
}
