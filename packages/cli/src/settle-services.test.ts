import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentRuns } from './settle-services.js';

describe('the CLI leaves settling to a resident agent that runs for the state directory', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-settle-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  it('sees an agent when nsboxd.json names a live pid, and none for a dead one, a bad file or no file', () => {
    assert.equal(agentRuns(stateDir), false, 'no nsboxd.json');
    writeFileSync(join(stateDir, 'nsboxd.json'), JSON.stringify({ pid: process.pid, socket: null }));
    assert.equal(agentRuns(stateDir), true, 'an agent alone (no socket) is alive');
    const gone = spawnSync('true').pid as number;
    writeFileSync(join(stateDir, 'nsboxd.json'), JSON.stringify({ pid: gone, socket: '/run/nsbox/nsbox.sock' }));
    assert.equal(agentRuns(stateDir), false, 'its process is gone');
    writeFileSync(join(stateDir, 'nsboxd.json'), '{ not json');
    assert.equal(agentRuns(stateDir), false, 'an unreadable file');
  });
});
