/**
 * Follows a box's console log as it grows (logs -f, run), stopping once `done` says so.
 *
 * It wakes on inotify events of the log's directory — the shim appending to the log, and
 * writing exit.json beside it when the init ends — so that `nsbox run` of a short command
 * returns as soon as the box exits rather than at the next poll. The poll stays, slower, for
 * what inotify does not report (a directory that is not there yet, a watch that failed).
 */

import { closeSync, existsSync, type FSWatcher, openSync, readSync, statSync, watch } from 'node:fs';
import { dirname } from 'node:path';

export interface FollowOptions {
  from?: 'start' | 'end';
  /** The longest wait between two looks when no event came (default 250 ms with a watch, 50 without). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Resolves at the next change in `dir`, or after `ms`, whichever comes first. */
class DirectoryWaker {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private changed = false;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.notify());
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  private notify(): void {
    this.changed = true;
    this.wake?.();
  }

  /** An event since the last wait counts: nothing written between two looks is missed. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.changed) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.wake = undefined;
        this.changed = false;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

export async function followLog(file: string, onData: (chunk: Buffer) => void, done: () => boolean, options: FollowOptions = {}): Promise<void> {
  let offset = options.from === 'end' && existsSync(file) ? statSync(file).size : 0;
  const buffer = Buffer.alloc(64 * 1024);
  const drain = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0; // rotated: the shim started a new file
    if (size === offset) return;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const read = readSync(fd, buffer, 0, buffer.length, offset);
        if (read <= 0) break;
        offset += read;
        onData(Buffer.from(buffer.subarray(0, read)));
      }
    } finally {
      closeSync(fd);
    }
  };
  const waker = new DirectoryWaker(dirname(file));
  const interval = options.intervalMs ?? (waker.watching ? 250 : 50);
  try {
    for (;;) {
      const finished = done() || options.signal?.aborted === true;
      drain();
      if (finished) return;
      await waker.wait(interval, options.signal);
    }
  } finally {
    waker.close();
  }
}
