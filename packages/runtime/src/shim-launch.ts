/**
 * Starts a box's shim detached from the caller (it outlives the CLI and the daemon), hands
 * it the launch program, and waits for its one-line verdict.
 *
 * The shim is spawned with posix_spawn from the addon rather than child_process: a fork of
 * the Node process costs about a millisecond of page-table copying on every box start.
 */

import { closeSync, openSync, read, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { encodeProgram, type LaunchOp, launcherPath, native, notifyPath, procViewPath, shimPath } from '@nsbox/native';

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
  /** Another executable on the launcher's contract (a checkpoint engine's restore); default: nsbox-launcher. */
  launcher?: string;
  /** nsbox-notify's config: the shim takes the box's seccomp listeners and keeps a helper serving them. */
  notifyConfig?: string;
  /** nsbox-proc-view's config: the shim keeps the box's FUSE connection and a server mounting and serving its /proc views. */
  viewsConfig?: string;
}

/** Reads up to the first newline (or EOF) from a pipe, on libuv's thread pool. */
function readLine(fd: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(4096);
    const timer = setTimeout(() => reject(new Error(`no answer from the shim within ${timeoutMs} ms`)), timeoutMs);
    const next = () =>
      read(fd, buffer, 0, buffer.length, null, (error, bytes) => {
        if (error) {
          clearTimeout(timer);
          reject(error);
          return;
        }
        chunks.push(Buffer.from(buffer.subarray(0, bytes)));
        const text = Buffer.concat(chunks).toString('utf8');
        if (bytes === 0 || text.includes('\n')) {
          clearTimeout(timer);
          resolve(text.split('\n')[0] as string);
        } else next();
      });
    next();
  });
}

export async function launchShim(options: LaunchShimOptions): Promise<ShimReady> {
  // The launcher reads its program from fd 3 to EOF: a file serves as well as a pipe, and
  // leaves a copy beside the box for whoever debugs it.
  const programFile = join(options.boxDir, 'program.bin');
  writeFileSync(programFile, encodeProgram(options.program), { mode: 0o600 });
  const args = [shimPath, '--box-dir', options.boxDir, '--launcher', options.launcher ?? launcherPath];
  if (options.terminal) args.push('--terminal');
  if (options.logMaxBytes) args.push('--log-max', String(options.logMaxBytes));
  if (options.notifyConfig) args.push('--notify-helper', notifyPath, '--notify-config', options.notifyConfig);
  if (options.viewsConfig) args.push('--views-helper', procViewPath, '--views-config', options.viewsConfig);

  const addon = native();
  const [readyRead, readyWrite] = addon.pipe();
  const programFd = openSync(programFile, 'r');
  const shimLog = openSync(join(options.boxDir, 'shim.log'), 'a', 0o600);
  try {
    addon.spawnDetached(shimPath, args, [-1, -1, shimLog, programFd, readyWrite]);
  } catch (error) {
    closeSync(readyRead);
    throw new NsboxError('E_RUNTIME', `cannot run the shim ${shimPath}: ${(error as Error).message}`, { cause: error });
  } finally {
    closeSync(readyWrite);
    closeSync(programFd);
    closeSync(shimLog);
  }
  let line: string;
  try {
    line = await readLine(readyRead, options.timeoutMs ?? 30_000);
  } finally {
    closeSync(readyRead);
  }
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
