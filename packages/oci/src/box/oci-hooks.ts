/**
 * OCI hooks. prestart, createRuntime, createContainer and startContainer are compiled into
 * the launcher's program and run at their moments (./launch-ops.ts); poststart and
 * poststop run here, in the runtime's namespaces, with the state on stdin. A hook without
 * `env` runs with the environment of nsbox-runc's caller (runc's own), in the bundle
 * directory (as crun). Their failures are logged and the lifecycle goes on, as the
 * runtime spec words it.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Box, OciSpec } from '@nsbox/core';
import type { HookName } from '../bundle/spec-support.js';
import { ociFacts } from './oci-driver.js';

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The hooks of one kind in config.json (the core's OciSpec type leaves hooks out). */
export function hooksOf(spec: OciSpec, kind: HookName): OciHook[] | undefined {
  return (spec as OciSpec & { hooks?: Partial<Record<HookName, OciHook[]>> }).hooks?.[kind];
}

function environment(entries: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(entries.map((entry) => entry.split(/=(.*)/s, 2) as [string, string]));
}

function runOnHost(hook: OciHook, input: string, cwd: string, env: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    const child = spawn(hook.path, args, { argv0: argv0 as string, cwd, env: environment(hook.env ?? env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, hook.timeout * 1000)
      : undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`timed out after ${hook.timeout} s`));
      else resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout, stderr });
    });
  });
}

/** Runs the poststart or poststop hooks in order; each failure is only a warning. */
export async function runHooks(
  kind: 'poststart' | 'poststop',
  hooks: OciHook[] | undefined,
  state: Record<string, unknown>,
  context: { box: Box; env: string[]; warn: (message: string) => void },
): Promise<void> {
  const input = JSON.stringify(state);
  const bundle = ociFacts(context.box).bundle;
  const cwd = existsSync(bundle) ? bundle : '/';
  for (const [index, hook] of (hooks ?? []).entries()) {
    let result: { code: number; stdout: string; stderr: string };
    try {
      result = await runOnHost(hook, input, cwd, context.env);
    } catch (error) {
      result = { code: -1, stdout: '', stderr: (error as Error).message };
    }
    if (result.code === 0) continue;
    context.warn(
      `error running ${kind} hook #${index} (${hook.path}): ${result.code < 0 ? result.stderr : `exit status ${result.code}`}${
        result.code >= 0 && (result.stdout || result.stderr) ? `, stdout: ${result.stdout.trim()}, stderr: ${result.stderr.trim()}` : ''
      }`,
    );
  }
}
