/**
 * A box's layer lock: `<box dir>/layers.lock`, made with O_EXCL and holding the pid of the
 * process that has it. A start holds it while it reads the box's layers and mounts its
 * overlay; `nsbox dedupe` holds it while it moves the box's files out of its upper. So
 * neither sees the other half done: a start never mounts an upper that dedupe is emptying,
 * and dedupe never touches an upper a start has mounted. A lock whose process is gone is
 * taken over.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';

const LOCK = 'layers.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of the box whose directory is `boxDir`; undefined when a live process holds it (its pid in `holder`). */
export function tryLockLayers(boxDir: string): { release(): void } | { holder: number } {
  const file = join(boxDir, LOCK);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) return { holder };
      rmSync(file, { force: true }); // its process is gone
    }
  }
  return { holder: 0 };
}

/** Runs `work` holding the box's layer lock; E_BUSY naming the holder when another process has it. */
export function withLayersLock<T>(boxDir: string, box: string, work: () => T): T {
  const lock = tryLockLayers(boxDir);
  if ('holder' in lock) {
    throw new NsboxError('E_BUSY', `box '${box}': its layers are being changed by process ${lock.holder} (nsbox dedupe): try again when it is done`, {
      details: { box, holder: lock.holder },
    });
  }
  try {
    return work();
  } finally {
    lock.release();
  }
}
