import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { identify } from '@nsbox/runtime';
import { SqliteStore } from '@nsbox/store';
import { makeTempDir, useCleanup } from '@nsbox/testkit';
import { AGENT_LOCK_FILE, AgentLock, agentLockHolder, type Exclusive } from './agent-lock.js';

describe('the agent lock', () => {
  const cleanup = useCleanup();
  let stateDir: string;
  let exclusive: Exclusive;

  beforeEach(() => {
    stateDir = makeTempDir(cleanup, 'agent-lock');
    const store = new SqliteStore({ stateDir });
    cleanup.add('close the store', () => store.close());
    exclusive = (body) => store.db.transaction(body).immediate();
  });

  it('refuses a second agent on the state dir, naming the one that runs', () => {
    const lock = AgentLock.acquire(stateDir, 'agent', exclusive);
    assert.equal(agentLockHolder(stateDir)?.pid, process.pid);
    assert.throws(
      () => AgentLock.acquire(stateDir, 'nsboxd', exclusive),
      (error: NsboxError) =>
        error.code === 'E_BUSY' && error.message.includes(`nsboxd --agent, pid ${process.pid}`) && error.message.includes(join(stateDir, AGENT_LOCK_FILE)),
    );
    lock.release();
    assert.equal(existsSync(join(stateDir, AGENT_LOCK_FILE)), false);
    AgentLock.acquire(stateDir, 'nsboxd', exclusive).release();
  });

  it('takes over the lock of an agent that is gone, even when its pid was reused', () => {
    // A process that ran and ended: its pid is free (or someone else's now).
    const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(join(stateDir, AGENT_LOCK_FILE), JSON.stringify({ pid: Number(gone), startTime: '1', mode: 'nsboxd', since: 1 }));
    // This very process under a start time that is not its own: a recycled pid.
    const recycled = { pid: process.pid, startTime: `${Number(identify(process.pid)?.startTime) + 1}`, mode: 'agent', since: 2 };
    assert.equal(agentLockHolder(stateDir), undefined, 'a dead holder holds nothing');
    const first = AgentLock.acquire(stateDir, 'agent', exclusive);
    first.release();
    writeFileSync(join(stateDir, AGENT_LOCK_FILE), JSON.stringify(recycled));
    const second = AgentLock.acquire(stateDir, 'agent', exclusive);
    assert.equal(JSON.parse(readFileSync(join(stateDir, AGENT_LOCK_FILE), 'utf8')).startTime, identify(process.pid)?.startTime);
    second.release();
  });

  it('does not remove a lock another agent took over', () => {
    const lock = AgentLock.acquire(stateDir, 'agent', exclusive);
    const other = { pid: process.pid, startTime: identify(process.pid)?.startTime, mode: 'nsboxd', since: 1 };
    writeFileSync(join(stateDir, AGENT_LOCK_FILE), JSON.stringify(other));
    lock.release();
    assert.equal(existsSync(join(stateDir, AGENT_LOCK_FILE)), true);
  });
});
