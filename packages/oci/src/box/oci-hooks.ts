/**
 * OCI hooks, with the container's state on stdin. prestart, createRuntime, poststart and
 * poststop run in the runtime's namespaces; createContainer and startContainer run inside
 * the box, through the launcher's join mode (execInBox).
 *
 * The launcher builds the whole box before anything else runs, so the create-time hooks
 * run once it is built and its init waits for `start`: after pivot_root rather than before.
 * What hooks use — the init's pid, its namespaces under /proc/PID/ns, the bundle — is
 * all there by then.
 */

import { spawn } from 'node:child_process';
import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { execInBox } from '@nsbox/runtime';
import type { HookName } from '../bundle/spec-support.js';
import type { OciBoxDriver } from './oci-driver.js';

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

const inBox: readonly HookName[] = ['createContainer', 'startContainer'];

function runOnHost(hook: OciHook, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    const child = spawn(hook.path, args, {
      argv0: argv0 as string,
      env: Object.fromEntries((hook.env ?? []).map((entry) => entry.split(/=(.*)/s, 2) as [string, string])),
      stdio: 'pipe',
    });
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

/**
 * Runs the hooks of one kind in order. The first failure stops them and throws, except for
 * poststart and poststop, whose failures the caller only warns about (`warn`).
 */
export async function runHooks(
  kind: HookName,
  hooks: OciHook[] | undefined,
  state: Record<string, unknown>,
  context: { driver: OciBoxDriver; box: Box; warn: (message: string) => void },
): Promise<void> {
  const input = JSON.stringify(state);
  for (const [index, hook] of (hooks ?? []).entries()) {
    let result: { code: number; stdout: string; stderr: string };
    try {
      if (inBox.includes(kind)) {
        const args = [hook.path, ...(hook.args ?? []).slice(1)];
        const ran = await execInBox(context.driver, context.box, { args, env: hook.env ?? [], user: { uid: 0, gid: 0 }, stdio: 'pipe', input });
        result = { code: ran.exitCode, stdout: ran.stdout, stderr: ran.stderr };
      } else result = await runOnHost(hook, input);
    } catch (error) {
      result = { code: -1, stdout: '', stderr: (error as Error).message };
    }
    if (result.code === 0) continue;
    const message = `error running ${kind} hook #${index} (${hook.path}): ${result.code < 0 ? result.stderr : `exit status ${result.code}`}${
      result.code >= 0 && (result.stdout || result.stderr) ? `, stdout: ${result.stdout.trim()}, stderr: ${result.stderr.trim()}` : ''
    }`;
    if (kind === 'poststart' || kind === 'poststop') {
      context.warn(message);
      continue;
    }
    throw new NsboxError('E_HOOK_FAILED', message, { details: { hook: kind, index } });
  }
}
