/**
 * Killing by pid list, for hierarchies without cgroup.kill (v1, cgroup2 before 5.14):
 * signal what cgroup.procs shows, look again, until no one is left. Looking again catches
 * children forked between the read and the signal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';
import { POLL_INTERVAL_MS, sigkill } from './cgroup-fs.js';

/** Refuse rather than SIGKILL ourselves: a caller put nsbox's own process in a box's cgroup. */
export function assertNotSelf(pids: number[], what: string): void {
  if (pids.includes(process.pid)) {
    throw new NsboxError('E_INVALID_STATE', `refusing to kill ${what}: it holds this process (pid ${process.pid}) itself`, {
      details: { pid: process.pid },
    });
  }
}

export function signalAll(pids: number[]): void {
  for (const pid of pids) sigkill(pid);
}

/**
 * A pid read from cgroup.procs could be reused by an unrelated process before the signal
 * lands; the window is the microseconds between the read and kill(2). A pidfd taken while
 * the process is still listed would close it; Node has no pidfd_open, the native addon does.
 */
export async function killUntilEmpty(listPids: () => number[], deadline: number, what: string): Promise<void> {
  for (;;) {
    const pids = listPids();
    if (pids.length === 0) return;
    assertNotSelf(pids, what);
    if (Date.now() >= deadline) throw stillPopulated(what, pids);
    signalAll(pids);
    await sleep(POLL_INTERVAL_MS);
  }
}

export function stillPopulated(what: string, pids: number[]): NsboxError {
  return new NsboxError('E_RUNTIME', `${what} still holds processes after SIGKILL (pids ${pids.join(', ')}): some may be stuck in the kernel`, {
    details: { pids },
  });
}
