/**
 * The server's side of the exec fifo the init helper (native/runc-init.c) blocks on:
 * `create` reads the helper's verdict on the program to run, `start` lets it exec.
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';

export function makeFifo(path: string): void {
  // Node has no mkfifo(3). Mode 0622: the box's user (any uid) must be able to open it for writing.
  execFileSync('mkfifo', ['-m', '0622', path], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Reads what the helper writes on the fifo until it closes its end: the reader is opened
 * non-blocking, so a helper that has not opened its end yet reads as EOF without data, and
 * we keep polling while it is alive.
 */
async function readFromHelper(path: string, alive: () => boolean, until: (text: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const deadline = Date.now() + timeoutMs;
  const buffer = Buffer.alloc(4096);
  let text = '';
  let connected = false;
  try {
    for (;;) {
      let bytes = -1;
      try {
        bytes = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        connected = true; // a writer is there, it has not written yet
      }
      if (bytes > 0) {
        connected = true;
        text += buffer.toString('utf8', 0, bytes);
        if (until(text)) return text;
        continue;
      }
      if (bytes === 0 && connected) return text; // the helper closed its end: exec'd, or exited
      if (!alive()) throw new NsboxError('E_RUNTIME', `the box's init exited before ${what}`, { details: { step: 'init' } });
      if (Date.now() > deadline)
        throw new NsboxError('E_RUNTIME', `the box's init did not answer within ${timeoutMs} ms (${what})`, { details: { step: 'init' } });
      await sleep(bytes === 0 ? 2 : 1);
    }
  } finally {
    closeSync(fd);
  }
}

function helperError(line: string): NsboxError {
  const match = /^error (\d+) (.*)$/.exec(line.trim());
  const message = match ? (match[2] as string) : line.trim() || 'no answer';
  return new NsboxError('E_RUNTIME', message, { details: { step: 'exec', errno: match ? Number(match[1]) : 0 } });
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
