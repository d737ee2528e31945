/**
 * Runs one more process inside a running box (exec, enter): the launcher in join mode
 * enters the box's namespaces through a pidfd of its init and joins its cgroup.
 */

import { type StdioOptions, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { encodeProgram, launcherPath } from '@nsbox/native';
import { execFailureError, launcherFailure } from './launcher-verdict.js';
import type { LinuxBoxDriver, LinuxRuntimeFacts } from './linux-driver.js';
import { isSameProcess } from './process-identity.js';
import { compileJoinProgram, type JoinRequest } from './spec-compiler.js';

export interface ExecOptions extends Omit<JoinRequest, 'initPid'> {
  /** stdio of the process: 'inherit' for a CLI, 'pipe' to capture. */
  stdio?: 'inherit' | 'pipe';
  /** With stdio 'pipe': written to the process's stdin, which is then closed (OCI hooks read their state there). */
  input?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function execInBox(driver: LinuxBoxDriver, box: Box, options: ExecOptions): Promise<ExecResult> {
  const runtime = box.runtime as LinuxRuntimeFacts & { spec?: OciSpec };
  if (box.state !== 'running' || !runtime.init || !isSameProcess(runtime.init) || !runtime.spec) {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is not running`, { details: { box: box.name, state: box.state } });
  }
  const program = compileJoinProgram(runtime.spec, { ...options, initPid: runtime.init.pid }, driver.joinContext(box));
  const mode = options.stdio ?? 'pipe';
  const stdio: StdioOptions = [mode, mode, mode, 'pipe', 'pipe'];
  const child = spawn(launcherPath, [], { stdio });
  (child.stdio[3] as Writable).end(encodeProgram(program));
  (child.stdio[3] as Writable).on('error', () => undefined);
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  }

  let stdout = '';
  let stderr = '';
  let verdict = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  (child.stdio[4] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
    verdict += chunk;
  });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', (error) => reject(new NsboxError('E_RUNTIME', `cannot run the launcher: ${error.message}`, { cause: error })));
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
  const failure = launcherFailure(verdict);
  if (failure) throw execFailureError(box.name, failure);
  return { exitCode, stdout, stderr };
}
