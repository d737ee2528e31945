/**
 * The limits commands through the real `nsbox` CLI: `set` on a running box (live, kept),
 * `limits` and `info` showing configured and effective values, bad input refused, pools.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCpuList } from '@nsbox/runtime-api';
import { type CliRunOptions, cliCommands, makeCliHost, makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { HostFacts } from '../src/host-facts.js';
import { detachLoopsUnder, loopDevices } from './support.js';

const pluginEntry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');
const MiB = 2 ** 20;

describe('limits: the nsbox commands', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'the limits commands');
  });

  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: [pluginEntry], afterDestroy: detachLoopsUnder });
  });

  const { nsbox, ok } = cliCommands(() => cli);

  it('set changes a running box at once and keeps it; limits and info show configured and effective values', () => {
    ok('create', 'web', '--template', 'busybox', '--', 'sleep', '100000');
    ok('start', 'web');
    // One and a half CPUs where the host has two or more, all of it on one.
    const cpus = new HostFacts().onlineCpus().length >= 2 ? 1.5 : 1;
    const set = ok('set', 'web', '--cpus', String(cpus), '--memory', '512M', '--pids', '200', '--rlimit', 'nofile=1024:4096', 'core=0');
    assert.match(set.stdout, /^box web \(running\): applied live in \d+ ms\nlimits of box web:/);
    assert.match(set.stdout, /memory\s+512M\s+512M/);
    console.log(
      `      nsbox set, 5 limits on a running box: applied in ${/applied live in (\d+) ms/.exec(set.stdout)?.[1]} ms (the CLI call itself takes ~1 s)`,
    );

    const limits = ok('limits', 'web', '--json').json();
    assert.deepEqual(
      { cpus: limits.effective.cpus, memory: limits.effective.memory, pids: limits.effective.pids, nofile: limits.effective.rlimits.nofile },
      { cpus, memory: 512 * MiB, pids: 200, nofile: { soft: 1024, hard: 4096 } },
    );
    const info = ok('info', 'web', '--json').json();
    assert.equal(info.config.limits.memory, 512 * MiB);
    assert.equal(info.details.limits.effective.cpus, cpus);
    assert.equal(info.details.limits.usage.pids, 1);

    ok('stop', '--timeout', '0', 'web');
    ok('start', 'web');
    assert.equal(ok('limits', 'web', '--json').json().effective.pids, 200, 'the limits are kept across a restart');
    ok('set', 'web', '--memory', 'unlimited', '--rlimit', 'core=-');
    const after = ok('limits', 'web', '--json').json();
    assert.equal(after.effective.memory, null);
    assert.equal(after.configured.rlimits.core, undefined);
    assert.match(ok('exec', 'web', '--', 'cat', '/proc/1/limits').stdout, /Max open files\s+1024\s+4096/);
  });

  it('set refuses bad input with a clear error and changes nothing', () => {
    ok('create', 'calm', '--template', 'busybox', '--', 'sleep', '100000');
    ok('set', 'calm', '--memory', '64M', '--disk', '64M');
    assert.match(nsbox('set', 'calm', '--memory', '64M', '--disk', '64M').stdout, /kept for the next start/);
    ok('start', 'calm');
    ok('exec', 'calm', '--', 'dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=8');
    const before = ok('limits', 'calm', '--json').json();
    const online = new HostFacts().onlineCpus();
    const beyond = (online[online.length - 1] as number) + 1;
    const refused: [string[], number, RegExp][] = [
      [['--cpus', '0'], 2, /limits\.cpus: '0': a CPU limit must be more than 0/],
      [['--memory', 'lots'], 2, /limits\.memory: 'lots' is not a size/],
      [
        ['--cpuset', `0-${beyond + 5}`],
        2,
        new RegExp(`limits\\.cpuset: CPU ${beyond}-${beyond + 5} does not exist on this host \\(it has ${formatCpuList(online)}\\)`),
      ],
      [
        ['--rlimit', 'rtprio=10'],
        8,
        /limits\.rlimits\.rtprio: hard limit 10 is above the admin's cap of 0 \(settings\.limits\.maxRlimits\.rtprio in the host config\)/,
      ],
      [['--memory', '4M'], 2, /limits\.memory: 4M is below what box 'calm' uses now \(\d+(\.\d)?M\)/],
      [['--disk', '32M'], 5, /shrinking the disk of a running box .*stop box 'calm' first/],
      [['--disk', 'unlimited'], 5, /removing the disk limit moves the box's root out of its image: stop box 'calm' first/],
    ];
    for (const [args, code, message] of refused) {
      const result = nsbox('set', 'calm', ...args);
      assert.equal(result.code, code, `set ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    // Below what a stopped box's image already holds: refused before the next start could fail.
    ok('exec', 'calm', '--', 'dd', 'if=/dev/zero', 'of=/data', 'bs=1M', 'count=30');
    ok('stop', '--timeout', '0', 'calm');
    const stopped = nsbox('set', 'calm', '--disk', '20M');
    assert.equal(stopped.code, 2, stopped.stderr);
    assert.match(stopped.stderr, /limits\.disk: disk 20M is below what box 'calm' already uses \(3\d(\.\d)?M\)/);
    ok('start', 'calm');
    const after = ok('limits', 'calm', '--json').json();
    assert.deepEqual(after.configured, before.configured, 'the stored config is unchanged');
    assert.equal(after.effective.memory, before.effective.memory, 'the box is untouched');
  });

  it('pool create chooses where images live; destroy takes the image and its loop device away', () => {
    const poolDir = join(makeTempDir(cleanup, 'pool'), 'images');
    // Only the test's own loop devices: other tests may run meanwhile.
    const own = () => loopDevices(cli.stateDir, poolDir);
    const loops = own();
    assert.match(ok('pool', 'create', 'fast', '--path', poolDir).stdout, /pool fast\s+.*images\s+0 image\(s\)/);
    assert.equal(existsSync(poolDir), true);
    ok('create', 'pooled', '--template', 'busybox', '--', 'sleep', '100000');
    ok('set', 'pooled', '--disk', '64M', '--pool', 'fast');
    ok('start', 'pooled');
    assert.deepEqual(readdirSync(poolDir).filter((name) => name.endsWith('.img')).length, 1);
    assert.match(ok('pool', 'list').stdout, /fast\s+.*1 image\(s\)/);
    assert.match(ok('exec', 'pooled', '--', 'df', '-h', '/').stdout, /64\.0M/);
    const busy = nsbox('pool', 'remove', 'fast');
    assert.equal(busy.code, 6, busy.stderr);
    ok('destroy', '--force', 'pooled');
    assert.deepEqual(readdirSync(poolDir), []);
    assert.deepEqual(own(), loops);
    ok('pool', 'remove', 'fast');
  });
});
