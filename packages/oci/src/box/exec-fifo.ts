/**
 * The server's side of the exec fifo the init helper (@nsbox/native: native/src/runc-init.c) blocks on:
 * `create` reads the helper's verdict on the program to run, `start` lets it exec.
 *
 * What comes through a fifo is the box's to write (any process of the box may open it), so
 * it is read as untrusted: the path is opened without following a symlink and must be a
 * fifo, at most ANSWER_LIMIT bytes are read, and only the helper's own answer format is
 * used in an error, never the bytes as they came.
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';

/** The helper's longest answer is one error line with a path in it (runc-init.c: PATH_MAX + 256). */
export const ANSWER_LIMIT = 4096 + 256;

export function makeFifo(path: string): void {
  // Node has no mkfifo(3). Mode 0622: the box's user (any uid) must be able to open it for writing.
  execFileSync('mkfifo', ['-m', '0622', path], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function initError(message: string): NsboxError {
  return new NsboxError('E_RUNTIME', message, { details: { step: 'init' } });
}

/** The read end of a fifo of ours: no symlink followed, no blocking open, and a fifo it must be. */
function openFifo(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    throw initError(`the init helper's fifo cannot be opened (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!fstatSync(fd).isFIFO()) {
    closeSync(fd);
    throw initError("the init helper's fifo is not a fifo any more");
  }
  return fd;
}

/**
 * Reads what the helper writes on the fifo until it closes its end: the reader is opened
 * non-blocking, so a helper that has not opened its end yet reads as EOF without data, and
 * we keep polling while it is alive.
 */
async function readFromHelper(path: string, alive: () => boolean, until: (text: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const fd = openFifo(path);
  const deadline = Date.now() + timeoutMs;
  const buffer = Buffer.alloc(ANSWER_LIMIT + 1);
  let length = 0;
  let connected = false;
  try {
    for (;;) {
      let bytes = -1;
      try {
        bytes = readSync(fd, buffer, length, buffer.length - length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        connected = true; // a writer is there, it has not written yet
      }
      if (bytes > 0) {
        connected = true;
        length += bytes;
        if (length > ANSWER_LIMIT) throw initError(`the box wrote more than ${ANSWER_LIMIT} bytes into the init helper's fifo (${what})`);
        const text = buffer.toString('utf8', 0, length);
        if (until(text)) return text;
        continue;
      }
      if (bytes === 0 && connected) return buffer.toString('utf8', 0, length); // the helper closed its end: exec'd, or exited
      if (!alive()) throw initError(`the box's init exited before ${what}`);
      if (Date.now() > deadline) throw initError(`the box's init did not answer within ${timeoutMs} ms (${what})`);
      await sleep(bytes === 0 ? 2 : 1);
    }
  } finally {
    closeSync(fd);
  }
}

/** Printable ASCII only, and not too much of it: the message goes to the caller's terminal and logs. */
function printable(text: string, limit = 512): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > limit ? `${clean.slice(0, limit)}...` : clean;
}

/** "error ERRNO MESSAGE" as runc-init.c writes it; anything else is not echoed. */
function helperError(line: string): NsboxError {
  const match = /^error (\d{1,4}) ([^\n]*)$/.exec(line.trim());
  if (!match)
    return new NsboxError('E_RUNTIME', `the init helper gave an answer that is not its own (${line.length} bytes)`, { details: { step: 'exec', errno: 0 } });
  return new NsboxError('E_RUNTIME', printable(match[2] as string), { details: { step: 'exec', errno: Number(match[1]) } });
}

/** create: the helper found the program (it now waits for start), or says why not. */
export async function awaitReady(path: string, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const text = await readFromHelper(path, alive, (answer) => answer.includes('\n'), timeoutMs, 'create finished');
  if (text.trim() !== 'ok') throw helperError(text);
}

/** start: the helper exec'd the program (its fd closed on exec), or says why it could not. */
export async function releaseInit(path: string, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const text = await readFromHelper(path, alive, () => false, timeoutMs, 'start');
  const lines = text.split('\n').filter(Boolean);
  if (lines[0] !== 'exec' || lines.length > 1) throw helperError(lines.find((line) => line.startsWith('error')) ?? text);
}
