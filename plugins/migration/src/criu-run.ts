/**
 * One criu call: the prefix's loader, CRIU_FAULT when the host needs it, a process group of
 * its own so that a cancel or a timeout ends criu and whatever it forked — a criu left
 * behind holds a frozen box.
 */

import { spawn } from 'node:child_process';
import type { CriuInstall } from './criu-install.js';

export interface CriuCallOptions {
  /** CRIU_FAULT's value (130: no hardware breakpoints, which some VMs never fire). */
  fault?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  /**
   * criu writes to its --log-file: its stdout and stderr go nowhere rather than to a pipe of
   * this process, so that criu outlives this process (a dump finishes) without a SIGPIPE.
   */
  detachOutput?: boolean;
  /** criu's exit status is written here by a shell around it, even when this process is gone by then. */
  exitFile?: string;
  /**
   * criu's `--status-fd` is fd 3 of the call (a pipe): called once when criu writes to it (a
   * post-copy dump whose page server is ready). The pipe is let go after, so that criu's later
   * writes, if any, do not block it on this process.
   */
  onStatus?: () => void;
}

/** The fd a call's `--status-fd` names when `onStatus` is given. */
export const STATUS_FD = 3;

export interface CriuResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

export function runCriu(install: CriuInstall, args: string[], options: CriuCallOptions = {}): Promise<CriuResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...(options.fault ? { CRIU_FAULT: options.fault } : {}) };
    const [file, argv] = options.exitFile
      ? ['/bin/sh', ['-c', '"$@"; rc=$?; echo $rc > "$NSBOX_CRIU_EXIT"; exit $rc', 'criu', install.file, ...install.args, ...args]]
      : [install.file, [...install.args, ...args]];
    if (options.exitFile) env.NSBOX_CRIU_EXIT = options.exitFile;
    const child = spawn(file, argv, {
      env,
      cwd: options.cwd ?? '/',
      detached: true,
      stdio: ['ignore', options.detachOutput ? 'ignore' : 'pipe', options.detachOutput ? 'ignore' : 'pipe', ...(options.onStatus ? (['pipe'] as const) : [])],
    });
    const status = options.onStatus ? (child.stdio[STATUS_FD] as NodeJS.ReadableStream & { destroy(): void }) : undefined;
    status?.once('data', () => {
      status.destroy();
      options.onStatus?.();
    });
    status?.on('error', () => undefined);
    let output = '';
    let timedOut = false;
    const collect = (chunk: Buffer) => {
      if (output.length < 64 * 1024) output += chunk.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup();
        }, options.timeoutMs)
      : undefined;
    const onAbort = () => killGroup();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, output, timedOut });
    });
  });
}

/** The lines of a criu log worth showing when it failed: its errors, else its tail. */
export function criuErrors(log: string, max = 4): string {
  const lines = log.split('\n').filter(Boolean);
  const errors = lines.filter((line) => /Error|error|BUG|Unable|Can't|Cannot|fail/i.test(line) && !/Warn/.test(line));
  return (errors.length > 0 ? errors : lines).slice(-max).join(' | ');
}
