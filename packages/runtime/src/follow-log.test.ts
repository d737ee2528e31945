import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followLog } from './follow-log.js';

describe('followLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-follow-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('wakes on the directory’s events: output and the end are seen at once, not at the next poll', async () => {
    const log = join(dir, 'console.log');
    const exit = join(dir, 'exit.json');
    writeFileSync(log, 'first\n');
    const chunks: string[] = [];
    // A poll interval longer than the test's timeout: only the inotify wake can end this in time.
    const followed = followLog(
      log,
      (chunk) => chunks.push(chunk.toString()),
      () => existsSync(exit),
      { intervalMs: 600_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    appendFileSync(log, 'second\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(chunks.join(''), 'first\nsecond\n', 'an append is read when it happens');
    appendFileSync(log, 'last\n');
    writeFileSync(exit, '{}');
    await followed;
    assert.equal(chunks.join(''), 'first\nsecond\nlast\n', 'what was written before the end is all read');
  }).timeout(5_000);

  it('stops when its signal aborts, and polls a directory that is not there', async () => {
    const controller = new AbortController();
    const followed = followLog(
      join(dir, 'missing', 'console.log'),
      () => undefined,
      () => false,
      { intervalMs: 600_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 20);
    await followed;
  }).timeout(5_000);
});
