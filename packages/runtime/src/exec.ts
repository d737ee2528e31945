/**
 * One more process inside a running box (exec, enter, nsboxd's exec socket): the launcher in
 * join mode (native/PROTOCOL.md §3) enters the box's namespaces through a pidfd of its init
 * and joins its cgroup. One path for every face: the CLI runs it with its own stdio, nsboxd
 * drives it through pipes, tests capture its output.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { encodeProgram, launcherPath } from '@nsbox/native';
import { execFailureError, launcherFailure } from './launcher-verdict.js';
import type { LinuxBoxDriver, LinuxRuntimeFacts } from './linux-driver.js';
import { isSameProcess } from './process-identity.js';
import { compileJoinProgram, type JoinRequest } from './spec-compiler.js';

const run = promisify(execFile);

export type JoinOptions = Omit<JoinRequest, 'initPid'>;

export interface ExecOptions extends JoinOptions {
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

/** A process in a box whose stdio are pipes its caller drives. */
export interface BoxProcess {
  readonly child: ChildProcess;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Exit status (128+N for a signal); rejects when the launcher could not run the command. */
  readonly exited: Promise<number>;
  /** Forwarded by the launcher to the process (SIGINT, SIGTERM, SIGHUP...). */
  signal(signal: NodeJS.Signals | number): void;
  /** Sets the pty's window size (tty only); the process gets SIGWINCH. */
  resize(rows: number, cols: number): Promise<void>;
  /** SIGKILL to the process in the box (the launcher forwards only catchable signals), then the launcher. */
  kill(): void;
}

/** The box's own environment with the request's variables on top; undefined keeps the box's. */
export function execEnvironment(box: Box, env: Record<string, string> | undefined): string[] | undefined {
  if (!env) return undefined;
  const own = (box.runtime.spec as OciSpec | undefined)?.process.env ?? [];
  return [...own, ...Object.entries(env).map(([key, value]) => `${key}=${value}`)];
}

export function assertRunning(box: Box): { init: NonNullable<LinuxRuntimeFacts['init']>; spec: OciSpec } {
  const runtime = box.runtime as LinuxRuntimeFacts & { spec?: OciSpec };
  if (box.state !== 'running' || !runtime.init || !isSameProcess(runtime.init) || !runtime.spec) {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is not running`, { details: { box: box.name, state: box.state } });
  }
  return { init: runtime.init, spec: runtime.spec };
}

/** Starts the launcher in join mode; `exited` settles with the status or the launcher's failure. */
function launchJoined(driver: LinuxBoxDriver, box: Box, options: JoinOptions, stdio: 'inherit' | 'pipe'): { child: ChildProcess; exited: Promise<number> } {
  const { init, spec } = assertRunning(box);
  const program = compileJoinProgram(spec, { ...options, initPid: init.pid }, driver.joinContext(box));
  const child = spawn(launcherPath, [], { stdio: [stdio, stdio, stdio, 'pipe', 'pipe'] });
  const programPipe = child.stdio[3] as Writable;
  programPipe.on('error', () => undefined);
  programPipe.end(encodeProgram(program));
  child.stdin?.on('error', () => undefined);
  let verdict = '';
  (child.stdio[4] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
    verdict += chunk;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (error) => reject(new NsboxError('E_RUNTIME', `cannot run the launcher: ${error.message}`, { cause: error })));
    child.once('close', (code, signal) => {
      const failure = launcherFailure(verdict);
      if (failure) reject(execFailureError(box.name, failure));
      else resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
  exited.catch(() => undefined);
  return { child, exited };
}

/** Runs a command in the box to its end: with the caller's stdio, or captured. */
export async function execInBox(driver: LinuxBoxDriver, box: Box, options: ExecOptions): Promise<ExecResult> {
  const { stdio = 'pipe', input, ...join } = options;
  const { child, exited } = launchJoined(driver, box, join, stdio);
  if (input !== undefined) child.stdin?.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return { exitCode: await exited, stdout, stderr };
}

/** Starts a command in the box with its stdio as pipes, for a caller that streams them. */
export function spawnInBox(driver: LinuxBoxDriver, box: Box, options: JoinOptions): BoxProcess {
  const { child, exited } = launchJoined(driver, box, options, 'pipe');
  return {
    child,
    stdin: child.stdin as Writable,
    stdout: child.stdout as Readable,
    stderr: child.stderr as Readable,
    exited,
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    kill() {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      for (const pid of childrenOf(child.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.kill('SIGKILL');
    },
    async resize(rows, cols) {
      if (!options.tty || child.pid === undefined) return;
      await resizePty(child.pid, rows, cols);
    },
  };
}

/** The joined process is the launcher's only child; its stdin is the pty's slave side. */
async function resizePty(launcherPid: number, rows: number, cols: number): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const child = childrenOf(launcherPid)[0];
    if (child !== undefined) {
      try {
        await run('stty', ['-F', `/proc/${child}/fd/0`, 'rows', String(rows), 'cols', String(cols)]);
        return;
      } catch {
        // Not ready yet (between fork and the child's dup2 of the slave), or gone.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
