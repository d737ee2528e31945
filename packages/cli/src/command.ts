/**
 * A CLI command: one file in src/commands/ exporting one of these. Plugins contribute the
 * same shape (core's CommandContribution), so both meet the parser through one adapter.
 */

import type { CliContext } from './cli-context.js';

export interface CliCommand {
  /** Words of the command path: `plugins`, or `config validate`. */
  name: string;
  description: string;
  arguments?: { name: string; description?: string; required?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; defaultValue?: unknown; parse?: (value: string, previous: unknown) => unknown }[];
  /** Accept arguments after `--` verbatim (exec, run). */
  passThrough?: boolean;
  run(context: CliContext, args: string[], options: Record<string, unknown>): unknown | Promise<unknown>;
  /** Human output; `--json` prints the result as JSON instead. */
  render?(result: unknown): string;
  /** The process exit code a successful result asks for (exec, run). */
  exitCode?(result: unknown): number;
}

export function defineCommand(command: CliCommand): CliCommand {
  return command;
}
