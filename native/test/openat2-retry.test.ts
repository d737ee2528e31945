/**
 * Paths inside a box's root are resolved with openat2(RESOLVE_BENEATH / RESOLVE_IN_ROOT). The
 * kernel answers EAGAIN when a rename or a mount anywhere on the system races with a `..` of the
 * walk; nsbox tries again instead of failing a box's start because another process renamed a file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../lib/index.js';

describe('native: resolution inside a root while the system renames', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbt-openat2-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes through a path with `..` for seconds on end while another process renames without pause', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    const churn = join(dir, 'churn');
    writeFileSync(`${churn}-a`, '');
    // Renames of the test's own file: each one moves the kernel's global rename sequence.
    const renamer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const a = ${JSON.stringify(`${churn}-a`)}, b = ${JSON.stringify(`${churn}-b`)}; for (;;) { fs.renameSync(a, b); fs.renameSync(b, a); }`,
      ],
      { stdio: 'ignore' },
    );
    const stopped = new Promise((resolve) => renamer.on('exit', resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Without the retry the first EAGAIN came within a second or two (the control run of this test).
      let rounds = 0;
      for (const until = Date.now() + 6000; Date.now() < until; rounds++) native().writeFileInRoot(root, 'etc/../etc/hosts', `round ${rounds}\n`, 0o644);
      assert.equal(readFileSync(join(root, 'etc', 'hosts'), 'utf8'), `round ${rounds - 1}\n`);
    } finally {
      renamer.kill('SIGKILL');
      await stopped;
    }
  });
});
