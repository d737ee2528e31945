/** Runs the real `nsbox` CLI (from source, through tsx) as a separate process. */

import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cliMain = join(repoRoot, 'packages/cli/src/main.ts');

export interface CliRunOptions {
  stateDir: string;
  /** cgroup parent of the boxes this CLI starts (NSBOX_CGROUP_PARENT). */
  cgroupParent?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

export interface CliRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cliEnv(options: CliRunOptions): NodeJS.ProcessEnv {
  return { ...process.env, ...(options.cgroupParent ? { NSBOX_CGROUP_PARENT: options.cgroupParent } : {}), ...options.env };
}

export function cliArgs(args: string[], options: CliRunOptions): string[] {
  return ['--import', 'tsx', '--conditions=source', cliMain, '--state-dir', options.stateDir, ...args];
}

export function runNsbox(args: string[], options: CliRunOptions): CliRunResult {
  const result = spawnSync(process.execPath, cliArgs(args, options), {
    encoding: 'utf8',
    cwd: repoRoot,
    env: cliEnv(options),
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Like runNsbox, without blocking the event loop (for tests that act while it runs). */
export function runNsboxAsync(
  args: string[],
  options: CliRunOptions,
): Promise<CliRunResult> & { child: ReturnType<typeof spawn>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, cliArgs(args, options), { cwd: repoRoot, env: cliEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CliRunResult>((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  // 'close' waits for every holder of the output pipes, box processes included; 'exit' does not.
  const exited = new Promise<number | null>((resolvePromise) => child.on('exit', (code) => resolvePromise(code)));
  return Object.assign(done, { child, exited });
}
