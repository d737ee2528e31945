/**
 * One resident agent per state dir: `<state-dir>/agent.lock` names the process that holds it
 * (pid and start time, so a recycled pid is not mistaken for it). A lock whose holder is gone
 * (SIGKILL, a crash) is taken over. The check and the write run inside one immediate
 * transaction of the host's store, which other processes cannot enter at the same time: two
 * agents starting at once cannot both find the lock stale and both take it.
 */

import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { identify, isSameProcess, isZombie, type ProcessIdentity } from '@nsbox/runtime';

export const AGENT_LOCK_FILE = 'agent.lock';

/** What nsboxd runs: the API with the agent, or the agent alone (`--agent`). */
export type AgentMode = 'nsboxd' | 'agent';

export interface AgentLockHolder extends ProcessIdentity {
  mode: AgentMode;
  since: number;
}

/** A store transaction that excludes every other process's (SQLite's BEGIN IMMEDIATE). */
export type Exclusive = <T>(body: () => T) => T;

export class AgentLock {
  private constructor(
    readonly file: string,
    private readonly holder: AgentLockHolder,
    private readonly exclusive: Exclusive,
  ) {}

  /** Takes the lock, or refuses (E_BUSY) naming the live agent that holds it. */
  static acquire(stateDir: string, mode: AgentMode, exclusive: Exclusive): AgentLock {
    const file = join(stateDir, AGENT_LOCK_FILE);
    const self = identify(process.pid);
    if (!self) throw new Error('cannot read this process start time from /proc');
    const holder: AgentLockHolder = { ...self, mode, since: Date.now() };
    exclusive(() => {
      const current = readHolder(file);
      if (current && holds(current)) {
        const who = current.mode === 'agent' ? 'nsboxd --agent' : 'nsboxd';
        throw new NsboxError(
          'E_BUSY',
          `another nsbox agent (${who}, pid ${current.pid}, since ${new Date(current.since).toISOString()}) already runs on ${stateDir}: one agent per state dir (lock ${file})`,
          { details: { pid: current.pid, mode: current.mode, lock: file } },
        );
      }
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
      renameSync(temporary, file);
    });
    return new AgentLock(file, holder, exclusive);
  }

  /** Removes the lock file if it still names this holder. */
  release(): void {
    this.exclusive(() => {
      const current = readHolder(this.file);
      if (current && current.pid === this.holder.pid && current.startTime === this.holder.startTime && current.since === this.holder.since) {
        rmSync(this.file, { force: true });
      }
    });
  }
}

/** Who holds the lock of a state dir, if anyone alive does. */
export function agentLockHolder(stateDir: string): AgentLockHolder | undefined {
  const current = readHolder(join(stateDir, AGENT_LOCK_FILE));
  return current && holds(current) ? current : undefined;
}

/** The holder still runs (a killed agent its parent has not collected yet holds nothing). */
function holds(holder: ProcessIdentity): boolean {
  return isSameProcess(holder) && !isZombie(holder.pid);
}

function readHolder(file: string): AgentLockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<AgentLockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.startTime !== 'string') return undefined;
    return { pid: parsed.pid, startTime: parsed.startTime, mode: parsed.mode === 'agent' ? 'agent' : 'nsboxd', since: Number(parsed.since) || 0 };
  } catch {
    return undefined; // unreadable: no live holder can be named, the lock is taken over
  }
}
