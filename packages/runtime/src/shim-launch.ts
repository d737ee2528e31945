/**
 * Starts a box's shim detached from the caller (it outlives the CLI and the daemon), hands
 * it the launch program, and waits for its one-line verdict.
 */

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { NsboxError } from '@nsbox/core';
import { encodeProgram, type LaunchOp, launcherPath, shimPath } from '@nsbox/native';

export interface ShimReady {
  pid: number;
  shimPid: number;
}

interface ReadyLine {
  ok: boolean;
  pid?: number;
  shimPid?: number;
  step?: string;
  errno?: number;
  message?: string;
}

export interface LaunchShimOptions {
  boxDir: string;
  program: LaunchOp[];
  terminal?: boolean;
  logMaxBytes?: number;
  timeoutMs?: number;
}

function readLine(stream: Readable, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => finish(new Error(`no answer from the shim within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.destroy();
      if (error) reject(error);
      else resolve(buffer.split('\n')[0] as string);
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.includes('\n')) finish();
    });
    stream.on('end', () => finish());
    stream.on('error', (error) => finish(error));
  });
}

export async function launchShim(options: LaunchShimOptions): Promise<ShimReady> {
  const shimLog = openSync(join(options.boxDir, 'shim.log'), 'a', 0o600);
  const args = ['--box-dir', options.boxDir, '--launcher', launcherPath];
  if (options.terminal) args.push('--terminal');
  if (options.logMaxBytes) args.push('--log-max', String(options.logMaxBytes));
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(shimPath, args, { detached: true, stdio: ['ignore', 'ignore', shimLog, 'pipe', 'pipe'] });
  } finally {
    closeSync(shimLog);
  }
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new NsboxError('E_RUNTIME', `cannot run the shim ${shimPath}: ${error.message}`, { cause: error }))),
  );
  const programPipe = child.stdio[3] as Writable;
  const readyPipe = child.stdio[4] as Readable;
  programPipe.end(encodeProgram(options.program));
  programPipe.on('error', () => {
    // The shim failed before reading the whole program: its ready line says why.
  });
  const line = await Promise.race([readLine(readyPipe, options.timeoutMs ?? 30_000), spawnError]);
  child.unref();
  let ready: ReadyLine;
  try {
    ready = JSON.parse(line) as ReadyLine;
  } catch {
    throw new NsboxError('E_RUNTIME', `the shim gave no verdict (${line || 'no output'}); see ${join(options.boxDir, 'shim.log')}`, {
      details: { step: 'shim' },
    });
  }
  if (!ready.ok || !ready.pid || !ready.shimPid) {
    const step = ready.step ?? 'launch';
    throw new NsboxError('E_RUNTIME', `box did not start: ${step}: ${ready.message ?? 'unknown error'}`, {
      details: { step, errno: ready.errno ?? 0 },
    });
  }
  return { pid: ready.pid, shimPid: ready.shimPid };
}
