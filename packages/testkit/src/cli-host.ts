/**
 * A state dir for the real `nsbox` CLI with only the plugins a test names (no discovery, so
 * the test does not depend on what else is installed), and its boxes and cgroups removed
 * after the test; plus the two ways tests call the CLI on it.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCgroupDriver } from '@nsbox/runtime';
import type { Cleanup } from './cleanup.js';
import { type CliRunOptions, type CliRunResult, runNsbox } from './cli-runner.js';
import { makeTempDir } from './test-host.js';

export interface CliHostOptions {
  /** Plugin entries (paths or package names) the host loads. */
  plugins: string[];
  /** host.json's `settings`, by plugin name. */
  settings?: Record<string, unknown>;
  /** Runs after the boxes are destroyed, before the cgroups go (detach loop devices...). */
  afterDestroy?: (stateDir: string) => void;
}

export function makeCliHost(cleanup: Cleanup, options: CliHostOptions): CliRunOptions {
  const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  const stateDir = makeTempDir(cleanup, 'state');
  writeFileSync(
    join(stateDir, 'host.json'),
    JSON.stringify({ discover: false, plugins: options.plugins, ...(options.settings ? { settings: options.settings } : {}) }),
  );
  const cli = { stateDir, cgroupParent };
  cleanup.add('destroy the boxes and cgroups of the CLI host', async () => {
    const listed = runNsbox(['list', '--json'], cli);
    for (const box of JSON.parse(listed.stdout || '[]') as { name: string }[]) runNsbox(['destroy', '--force', box.name], cli);
    options.afterDestroy?.(stateDir);
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
  return cli;
}

export interface CliCommands {
  /** Runs the CLI; `json()` parses its stdout. */
  nsbox(...args: string[]): CliRunResult & { json: () => ReturnType<typeof JSON.parse> };
  /** Runs the CLI and asserts it exited 0, naming the command and its stderr if not. */
  ok(...args: string[]): CliRunResult & { json: () => ReturnType<typeof JSON.parse> };
}

/** `cli` is read at each call: tests make a new host in each beforeEach. */
export function cliCommands(cli: () => CliRunOptions): CliCommands {
  const nsbox = (...args: string[]) => {
    const result = runNsbox(args, cli());
    return { ...result, json: () => JSON.parse(result.stdout) };
  };
  return {
    nsbox,
    ok(...args) {
      const result = nsbox(...args);
      assert.equal(result.code, 0, `nsbox ${args.join(' ')}: ${result.stderr}`);
      return result;
    },
  };
}
