/** signalAll: kills through pidfds, and only what the second reading of the list still shows. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { signalAll } from './kill-loop.js';

function sleeper(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  assert.ok(child.pid);
  return child as ChildProcess & { pid: number };
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

describe('signalAll (kill by pid list)', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('signals through pidfds only the pids still listed once they are open: a pid that left the list is not hit', async () => {
    const stays = sleeper();
    const left = sleeper();
    children.push(stays, left);
    const killed = exited(stays);
    // The first reading lists both; by the second, `left`'s pid has left the cgroup (it
    // could belong to an unrelated process by now): it must not be signalled.
    const readings = [[stays.pid, left.pid], [stays.pid]];
    signalAll(() => readings.shift() ?? []);
    assert.equal(await killed, 'SIGKILL');
    assert.equal(left.exitCode, null);
    assert.equal(left.signalCode, null, 'the process no longer listed was not signalled');
  });

  it('ignores a pid whose process is gone before its pidfd could be opened', async () => {
    const gone = sleeper();
    const done = exited(gone);
    gone.kill('SIGKILL');
    await done;
    signalAll(() => [gone.pid]);
  });
});
