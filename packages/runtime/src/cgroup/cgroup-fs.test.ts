import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCgroupFileIfExists } from './cgroup-fs.js';

/** A v1 hierarchy of this host to make a test cgroup in, if it has one (the pids controller's). */
const PIDS_V1 = '/sys/fs/cgroup/pids';

describe('cgroup files read in one read(2), the per-process lists to their end', function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let children: ChildProcess | undefined;

  afterEach(async () => {
    children?.kill('SIGKILL');
    if (dir && existsSync(dir)) {
      for (let tries = 0; tries < 100 && readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== ''; tries++) {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone already
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      rmdirSync(dir);
    }
    dir = children = undefined;
  });

  it('gives all of a cgroup.procs longer than a page: a short read of it is not its end', async function () {
    if (process.getuid?.() !== 0 || !existsSync(join(PIDS_V1, 'cgroup.procs'))) this.skip();
    dir = join(PIDS_V1, `nsbox-test-${randomBytes(4).toString('hex')}`);
    mkdirSync(dir);
    // Sleepers until the list is two pages long (its length depends on how wide the pids are),
    // more than the page a seq_file read stops at.
    const fill = `while [ $(wc -c < ${dir}/cgroup.procs) -le 8192 ]; do for i in $(seq 50); do sleep 600 & done; done`;
    children = spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; ${fill}; echo started; wait`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve) => children?.stdout?.once('data', () => resolve()));
    const whole = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
    assert.ok(whole.length > 8192, `the list is long: ${whole.length} bytes`);
    assert.equal(readCgroupFileIfExists(join(dir, 'cgroup.procs')), whole);
    // A value file: one read.
    writeFileSync(join(dir, 'pids.max'), '2000');
    assert.equal(readCgroupFileIfExists(join(dir, 'pids.max')), '2000\n');
    assert.equal(readCgroupFileIfExists(join(dir, 'no-such-file')), undefined);
  });
});
