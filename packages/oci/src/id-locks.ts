/**
 * One operation at a time per container id: an in-process queue (the resident server serves
 * calls concurrently) and a lock file per id for other processes on the same --root (a
 * server of its own per call with NSBOX_RUNC_NO_DAEMON, a second server after a crash).
 * The file is made with O_EXCL and holds its owner's pid: a lock whose owner is dead is
 * taken over, so a crash at any point leaves nothing that blocks the id.
 */

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, NsboxError } from '@nsbox/core';

export class IdLocks {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly dir: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async with<T>(id: string, body: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const release = await this.acquireFile(id);
        try {
          return await body();
        } finally {
          release();
        }
      });
    this.queues.set(id, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(id) === run) this.queues.delete(id);
    }
  }

  private async acquireFile(id: string): Promise<() => void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `${id}.lock`);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number(readOr(file));
      if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !isProcessAlive(owner)) {
        rmSync(file, { force: true }); // left by a process that died holding it (the in-process queue rules out our own)
        continue;
      }
      if (Date.now() > deadline) {
        throw new NsboxError('E_BUSY', `container ${id} is busy: process ${owner} holds its lock`, { details: { id, owner } });
      }
      await sleep(10);
    }
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
