/**
 * One more process inside a running box, with its stdio as pipes the daemon drives: the
 * launcher in join mode (native/PROTOCOL.md §3), as `nsbox exec` runs it. With `tty` the
 * launcher allocates the pty and relays between it and our pipes; the window size is set
 * on the pty itself (the launcher reads it from a terminal stdin, and ours is a pipe).
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { encodeProgram, launcherPath } from '@nsbox/native';
import { compileJoinProgram, execFailureError, isSameProcess, type LinuxBoxDriver, type LinuxRuntimeFacts, launcherFailure } from '@nsbox/runtime';

const run = promisify(execFile);

export interface BoxProcessRequest {
  command: string[];
  /** Added to the box's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  user?: { uid: number; gid: number };
  tty?: boolean;
}

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

export function assertRunning(box: Box): { init: NonNullable<LinuxRuntimeFacts['init']>; spec: OciSpec } {
  const runtime = box.runtime as LinuxRuntimeFacts & { spec?: OciSpec };
  if (box.state !== 'running' || !runtime.init || !isSameProcess(runtime.init) || !runtime.spec) {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is not running`, { details: { box: box.name, state: box.state } });
  }
  return { init: runtime.init, spec: runtime.spec };
}

export function spawnInBox(driver: LinuxBoxDriver, box: Box, request: BoxProcessRequest): BoxProcess {
  const { init, spec } = assertRunning(box);
  const env = request.env ? [...(spec.process.env ?? []), ...Object.entries(request.env).map(([key, value]) => `${key}=${value}`)] : undefined;
  const program = compileJoinProgram(
    spec,
    {
      initPid: init.pid,
      args: request.command,
      tty: Boolean(request.tty),
      ...(env ? { env } : {}),
      ...(request.cwd ? { cwd: request.cwd } : {}),
      ...(request.user ? { user: request.user } : {}),
    },
    driver.joinContext(box),
  );
  const child = spawn(launcherPath, [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
  const programPipe = child.stdio[3] as Writable;
  programPipe.on('error', () => undefined);
  programPipe.end(encodeProgram(program));
  let verdict = '';
  (child.stdio[4] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
    verdict += chunk;
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (error) => reject(new NsboxError('E_RUNTIME', `cannot run the launcher: ${error.message}`, { cause: error })));
    child.once('close', (code, signal) => {
      const failure = launcherFailure(verdict);
      if (failure) {
        reject(execFailureError(box.name, failure));
        return;
      }
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
  exited.catch(() => undefined);
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
      if (!request.tty || child.pid === undefined) return;
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
