/**
 * Runs the host tools templates are made with (tar, cp, rm, debootstrap, apt-get). Each
 * child gets its own process group so that cancelling also stops what it spawned (tar's
 * decompressor, debootstrap's wget and dpkg), and a failure carries the tool's own words.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { NsboxError } from '@nsbox/core';

export interface RunOptions {
  /** Names the operation in errors: "extracting /srv/t.tar.gz". */
  what: string;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Feeds the whole of this open file to stdin (positional reads, so the fd's offset is untouched). */
  inputFd?: number;
  /** Sees every chunk of the input, even after the child stopped reading (for hashing, progress). */
  onInput?: (chunk: Buffer) => void;
  onStdoutLine?: (line: string) => void;
  /** Lines written to fd 3 (debootstrap --debian-installer reports progress there). */
  onFd3Line?: (line: string) => void;
  /** Grace between SIGTERM and SIGKILL when cancelled. */
  killGraceMs?: number;
}

export interface RunResult {
  /** The last part of stderr (and of stdout when it is not read line by line). */
  output: string;
}

const OUTPUT_TAIL = 16 * 1024;

export function cancelledError(what: string, reason: unknown): NsboxError {
  return new NsboxError('E_RUNTIME', `${what} was cancelled`, { details: { cancelled: true }, cause: reason });
}

export async function runCommand(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const { signal } = options;
  if (signal?.aborted) throw cancelledError(options.what, signal.reason);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: [options.inputFd === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', options.onFd3Line ? 'pipe' : 'ignore'],
  });
  let output = '';
  const keep = (text: string) => {
    output = (output + text).slice(-OUTPUT_TAIL);
  };
  child.stderr?.setEncoding('utf8').on('data', keep);
  if (options.onStdoutLine && child.stdout) readLines(child.stdout, options.onStdoutLine);
  else child.stdout?.setEncoding('utf8').on('data', keep);
  const fd3 = child.stdio[3] as Readable | null | undefined;
  if (options.onFd3Line && fd3) readLines(fd3, options.onFd3Line);

  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    killGroup(child, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), options.killGraceMs ?? 5000);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve({ code, sig }));
  });
  const fed =
    options.inputFd !== undefined && child.stdin
      ? feed(options.inputFd, child.stdin, options.onInput).catch((error: unknown) => {
          // The archive could not be read to the end: the child must not go on with half of it.
          killGroup(child, 'SIGKILL');
          throw error;
        })
      : Promise.resolve();
  try {
    const [{ code, sig }] = await Promise.all([exited, fed]);
    if (signal?.aborted) throw cancelledError(options.what, signal.reason);
    if (code !== 0) {
      const status = code === null ? `killed by ${sig}` : `exit ${code}`;
      throw new NsboxError('E_RUNTIME', `${options.what} failed (${command} ${status}): ${output.trim() || 'no output'}`, {
        details: { command, args, exitCode: code, signal: sig, output: output.trim() },
      });
    }
    return { output };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && (error as NodeJS.ErrnoException).syscall?.startsWith('spawn')) {
      throw new NsboxError('E_UNSUPPORTED', `${options.what} needs ${command}, which is not installed`, { details: { command }, cause: error });
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
  }
}

function readLines(stream: Readable, onLine: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', onLine);
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // The group is already gone.
  }
}

/**
 * Writes the file to the child's stdin. Keeps reading to the end when the child stops early
 * (tar stops at the end-of-archive blocks), so that `onInput` always sees every byte.
 */
async function feed(fd: number, stdin: Writable, onInput?: (chunk: Buffer) => void): Promise<void> {
  let open = true;
  const closed = new Promise<void>((resolve) => {
    stdin.once('error', () => {
      open = false;
      resolve();
    });
    stdin.once('close', () => {
      open = false;
      resolve();
    });
  });
  const input = createReadStream('', { fd, start: 0, autoClose: false, highWaterMark: 1 << 20 });
  for await (const chunk of input as AsyncIterable<Buffer>) {
    onInput?.(chunk);
    if (open && !stdin.write(chunk)) {
      await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), closed]);
    }
  }
  if (open) stdin.end();
}
