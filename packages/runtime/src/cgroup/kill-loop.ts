/**
 * Killing by pid list, for hierarchies without cgroup.kill (v1, cgroup2 before 5.14):
 * signal what cgroup.procs shows, look again, until no one is left. Looking again catches
 * children forked between the read and the signal. Signals go through pidfds, never kill(2)
 * on a number that may have been recycled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';
import { native } from '@nsbox/native';
import { POLL_INTERVAL_MS } from './cgroup-fs.js';

const SIGKILL = 9;

/** Refuse rather than SIGKILL ourselves: a caller put nsbox's own process in a box's cgroup. */
export function assertNotSelf(pids: number[], what: string): void {
  if (pids.includes(process.pid)) {
    throw new NsboxError('E_INVALID_STATE', `refusing to kill ${what}: it holds this process (pid ${process.pid}) itself`, {
      details: { pid: process.pid },
    });
  }
}

/**
 * SIGKILLs what `listPids` shows through pidfds: a pidfd is opened on each pid listed, then
 * the list is read again and only the pids still in it are signalled, through their pidfd.
 * A process alive when its signal lands has held its pid since before that second reading,
 * so the listing was about it; one that died meanwhile is not hit, nor is an unrelated
 * process that got its recycled pid (which kill(2) on the number would hit).
 */
export function signalAll(listPids: () => number[], pids: number[] = listPids()): void {
  const pidfds = new Map<number, number>();
  try {
    for (const pid of pids) {
      const fd = gone(() => native().pidfdOpen(pid));
      if (fd !== undefined) pidfds.set(pid, fd);
    }
    if (pidfds.size === 0) return;
    const listed = new Set(listPids());
    for (const [pid, fd] of pidfds) if (listed.has(pid)) gone(() => native().pidfdSendSignal(fd, SIGKILL));
  } finally {
    for (const fd of pidfds.values()) native().close(fd);
  }
}

/** Runs a pidfd call; a process that is gone already (ESRCH) gives undefined. */
function gone<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw error;
  }
}

export async function killUntilEmpty(listPids: () => number[], deadline: number, what: string): Promise<void> {
  for (;;) {
    const pids = listPids();
    if (pids.length === 0) return;
    assertNotSelf(pids, what);
    if (Date.now() >= deadline) throw stillPopulated(what, pids);
    signalAll(listPids, pids);
    await sleep(POLL_INTERVAL_MS);
  }
}

export function stillPopulated(what: string, pids: number[]): NsboxError {
  return new NsboxError('E_RUNTIME', `${what} still holds processes after SIGKILL (pids ${pids.join(', ')}): some may be stuck in the kernel`, {
    details: { pids },
  });
}
