/** Options shared by `create` and `run`: what the box is made from and what it runs. */

import { readFileSync } from 'node:fs';
import type { BoxOptionContribution } from '@nsbox/core';
import { NsboxError } from '@nsbox/core/light';
import { collect, parseEnv } from '../box-helpers.js';
import type { CliCommand } from '../command.js';

export const boxDefinitionOptions: NonNullable<CliCommand['options']> = [
  { flags: '--template <template>', description: 'built-in template (busybox, debian-12), tarball, directory or OCI image' },
  { flags: '--rootfs <dir>', description: 'an existing root filesystem directory (left in place on destroy)' },
  { flags: '--config <file>', description: 'box config file (JSON); options given here override it' },
  { flags: '--hostname <name>', description: "the box's hostname (default: its name)" },
  { flags: '-e, --env <KEY=VALUE>', description: 'environment variable for init (repeatable)', parse: collect },
  { flags: '--cwd <dir>', description: 'working directory of init' },
  { flags: '--owner <tenant>', description: 'tenant that owns the box' },
];

/** Plugins' options of create/run (boxOptionPoint) in the parser's shape. */
export function pluginBoxOptions(contributions: readonly BoxOptionContribution[]): NonNullable<CliCommand['options']> {
  return contributions.map((option) => ({ flags: option.flags, description: option.description, ...(option.repeatable ? { parse: collect } : {}) }));
}

export function boxConfigFromOptions(
  options: Record<string, unknown>,
  command: string[],
  contributions: readonly BoxOptionContribution[] = [],
): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (options.config) {
    try {
      config = JSON.parse(readFileSync(options.config as string, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new NsboxError('E_INVALID_ARGUMENT', `cannot read box config ${options.config}: ${(error as Error).message}`);
    }
  }
  if (options.template && options.rootfs) throw new NsboxError('E_INVALID_ARGUMENT', 'give either --template or --rootfs, not both');
  if (options.template) config.template = options.template;
  if (options.rootfs) config.rootfs = options.rootfs;
  if (options.hostname) config.hostname = options.hostname;
  const process = { ...((config.process as Record<string, unknown>) ?? {}) };
  if (command.length > 0) process.args = command;
  const env = parseEnv(options.env);
  if (env) process.env = { ...((process.env as Record<string, string>) ?? {}), ...env };
  if (options.cwd) process.cwd = options.cwd;
  if (Object.keys(process).length > 0) config.process = process;
  for (const option of contributions) if (options[option.key] !== undefined) option.apply(config, options[option.key]);
  return config;
}
