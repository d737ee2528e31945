import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCgroupFileIfExists } from './cgroup-fs.js';

/**
 * Where to make the test cgroup, and a value file it has that the test may write: the v1 pids
 * hierarchy on a v1 or hybrid host, the unified root on a pure cgroup2 host (the VM lane).
 */
function testHierarchy(): { parent: string; valueFile: string; value: string } | undefined {
  if (existsSync('/sys/fs/cgroup/pids/cgroup.procs')) return { parent: '/sys/fs/cgroup/pids', valueFile: 'pids.max', value: '2000' };
  if (existsSync('/sys/fs/cgroup/cgroup.subtree_control')) return { parent: '/sys/fs/cgroup', valueFile: 'cgroup.max.depth', value: '5' };
  return undefined;
}

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
    const hierarchy = testHierarchy();
    if (process.getuid?.() !== 0 || hierarchy === undefined) this.skip();
    dir = join(hierarchy.parent, `nsbox-test-${randomBytes(4).toString('hex')}`);
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
    writeFileSync(join(dir, hierarchy.valueFile), hierarchy.value);
    assert.equal(readCgroupFileIfExists(join(dir, hierarchy.valueFile)), `${hierarchy.value}\n`);
    assert.equal(readCgroupFileIfExists(join(dir, 'no-such-file')), undefined);
  });
});
