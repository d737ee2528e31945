import assert from 'node:assert/strict';
import { mergeLimitOptions } from './set-options.js';

describe('limits: nsbox set options', () => {
  const current = { cpus: 1, memory: 64 * 2 ** 20, rlimits: { nofile: { soft: 1024, hard: 4096 } }, io: [{ device: '/dev/vdb', writeBps: 1000 }] };

  it('replaces the fields given and keeps the others', () => {
    assert.deepEqual(mergeLimitOptions(current, { cpus: '1.5', pids: '200', cpuWeight: '50' }), { ...current, cpus: '1.5', pids: '200', cpuWeight: '50' });
  });

  it("removes a limit given as 'unlimited', 'none' or 'max'", () => {
    const next = mergeLimitOptions(current, { memory: 'unlimited', cpus: 'none' });
    assert.equal('memory' in next, false);
    assert.equal('cpus' in next, false);
  });

  it('merges rlimits and io entries by name and device', () => {
    const next = mergeLimitOptions(current, { rlimit: ['core=0', 'nofile=2048:4096', 'nproc=-'], io: ['/dev/vdb,rbps=5M,wbps=max', '7:0,wiops=100'] });
    assert.deepEqual(next.rlimits, { nofile: { soft: '2048', hard: '4096' }, core: '0' });
    assert.deepEqual(next.io, [
      { device: '/dev/vdb', readBps: '5M' },
      { device: '7:0', writeIops: '100' },
    ]);
    assert.equal('io' in mergeLimitOptions(current, { io: ['/dev/vdb,none'] }), false);
    assert.deepEqual(mergeLimitOptions(current, { reset: true, pids: '5' }), { pids: '5' });
  });

  it('refuses malformed --rlimit and --io values', () => {
    assert.throws(() => mergeLimitOptions(current, { rlimit: ['nofile'] }), /--rlimit 'nofile': use NAME=SOFT:HARD/);
    assert.throws(() => mergeLimitOptions(current, { io: ['/dev/vdb'] }), /--io '\/dev\/vdb': use DEVICE,KEY=VALUE/);
    assert.throws(() => mergeLimitOptions(current, { io: ['/dev/vdb,speed=1'] }), /'speed=1' is not KEY=VALUE/);
  });
});
