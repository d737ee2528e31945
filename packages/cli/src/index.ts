export { CliContext, type DriverFactory, type GlobalOptions } from './cli-context.js';
export { type CliCommand, defineCommand } from './command.js';
export { builtinCommands } from './commands/index.js';
export { type CliIo, type RunCliOptions, runCli } from './program.js';
export { table } from './render.js';
