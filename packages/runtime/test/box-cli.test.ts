/**
 * Boxes through the real `nsbox` CLI on the real kernel: run, exit codes, boxes that outlive
 * the CLI, exec, logs, stop and destroy, and bad input that leaves nothing behind.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBusyboxRootfs, type CliRunOptions, cliArgs, makeTempDir, requireRoot, runNsbox, runNsboxAsync, snapshotHost, useCleanup } from '@nsbox/testkit';
import { createCgroupDriver } from '../src/cgroup/index.js';

describe('boxes through the nsbox CLI', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;
  let cgroupParent: string;

  before(function () {
    requireRoot(this, 'running boxes');
  });

  beforeEach(() => {
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
    cli = { stateDir: makeTempDir(cleanup, 'state'), cgroupParent };
    const parent = cgroupParent;
    const state = cli.stateDir;
    cleanup.add('destroy every box of the test', async () => {
      const listed = runNsbox(['list', '--json'], { stateDir: state, cgroupParent: parent });
      for (const box of JSON.parse(listed.stdout || '[]') as { name: string }[])
        runNsbox(['destroy', '--force', box.name], { stateDir: state, cgroupParent: parent });
      const cgroups = createCgroupDriver({ parent });
      for (const name of cgroups.list()) await cgroups.remove(name);
      await cgroups.removeParent?.();
    });
  });

  it('runs a command as pid 1 of its own box and propagates exit codes', () => {
    const result = runNsbox(
      ['run', '--rm', '--template', 'busybox', 'demo', '--', 'sh', '-c', 'echo $$; hostname; cat /proc/1/cmdline | tr "\\0" " "; echo'],
      cli,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['1', 'demo', 'sh -c echo $$; hostname; cat /proc/1/cmdline | tr "\\0" " "; echo']);
    assert.equal(runNsbox(['run', '--rm', '--template', 'busybox', 'seven', '--', 'sh', '-c', 'exit 7'], cli).code, 7);
    assert.deepEqual(JSON.parse(runNsbox(['list', '--json'], cli).stdout), [], 'run --rm leaves no box');
  });

  it('exits with 128+N when the box init is killed by signal N', async () => {
    const running = runNsboxAsync(['run', '--rm', '--template', 'busybox', 'killed', '--', 'sleep', '600'], cli);
    const listed = () => JSON.parse(runNsbox(['list', '--json'], cli).stdout || '[]') as { state: string }[];
    let runExit: number | null | undefined;
    void running.exited.then((code) => {
      runExit = code;
    });
    // Each `nsbox list` is a whole CLI start, so the wait is bounded by time, not by a count of tries;
    // it ends early when `run` itself has ended, whose stderr then says why.
    const deadline = Date.now() + 60_000;
    let state = listed()[0]?.state;
    while (state !== 'running' && runExit === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = listed()[0]?.state;
    }
    assert.equal(state, 'running', `the box never ran (run exited ${runExit}): ${runExit === undefined ? '' : (await running).stderr}`);
    // An init ignores signals sent from inside its own pid namespace: this one comes from the host.
    const killed = runNsbox(['kill', 'killed', 'KILL'], cli);
    assert.equal(killed.code, 0, killed.stderr);
    const run = await running;
    assert.equal(run.code, 128 + 9, run.stderr);
    assert.deepEqual(listed(), []);
  });

  it('keeps a box running after the CLI exits and after its caller is SIGKILLed', async () => {
    assert.equal(runNsbox(['create', 'keeper', '--template', 'busybox', '--', 'sleep', '1000'], cli).code, 0);
    const starting = runNsboxAsync(['start', 'keeper'], cli);
    const started = await starting;
    assert.equal(started.code, 0, started.stderr);
    // A caller killed outright: the box must not notice.
    const caller = runNsboxAsync(['exec', 'keeper', '--', 'sleep', '30'], cli);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    caller.child.kill('SIGKILL');
    await caller.exited;
    const listed = JSON.parse(runNsbox(['list', '--json'], cli).stdout) as { name: string; state: string; pid: number }[];
    assert.equal(listed[0]?.state, 'running');
    assert.ok(listed[0]?.pid && listed[0].pid > 1);
    const exec = runNsbox(['exec', 'keeper', '--', 'sh', '-c', 'echo in-box; hostname; exit 3'], cli);
    assert.equal(exec.code, 3, exec.stderr);
    assert.equal(exec.stdout, 'in-box\nkeeper\n');
    assert.equal(runNsbox(['stop', '--timeout', '1', 'keeper'], cli).code, 0);
    assert.equal(JSON.parse(runNsbox(['info', '--json', 'keeper'], cli).stdout).state, 'stopped');
    assert.equal(runNsbox(['destroy', 'keeper'], cli).code, 0);
    assert.deepEqual(JSON.parse(runNsbox(['list', '--json'], cli).stdout), []);
  });

  it('gives exec -t and enter a terminal of their own inside the box', () => {
    assert.equal(runNsbox(['create', 'termbox', '--template', 'busybox', '--', 'sleep', '1000'], cli).code, 0);
    assert.equal(runNsbox(['start', 'termbox'], cli).code, 0);
    // script(1) gives the CLI a terminal, as an admin's shell would.
    const nsboxCommand = (args: string) =>
      `${process.execPath} ${cliArgs([], cli)
        .map((arg) => `'${arg}'`)
        .join(' ')} ${args}`;
    const exec = spawnSync('script', ['-qec', nsboxCommand("exec -t termbox -- sh -c 'tty; stty size; exit 4'"), '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
    });
    assert.equal(exec.status, 4, exec.stderr);
    assert.match(exec.stdout, /\/dev\/pts\/\d+/);
    const enter = spawnSync('script', ['-qec', nsboxCommand('enter termbox'), '/dev/null'], {
      encoding: 'utf8',
      input: 'echo answer=$((6*7)); hostname; exit\n',
      env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
    });
    assert.equal(enter.status, 0, enter.stderr);
    assert.match(enter.stdout, /answer=42/);
    assert.match(enter.stdout, /termbox/);
  });

  it('shows what the box printed with logs, and marks a box whose init exited as stopped', async () => {
    assert.equal(runNsbox(['create', 'talker', '--template', 'busybox', '--', 'sh', '-c', 'echo first line; echo second line'], cli).code, 0);
    assert.equal(runNsbox(['start', 'talker'], cli).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const logs = runNsbox(['logs', 'talker'], cli);
    assert.equal(logs.stdout, 'first line\nsecond line\n');
    const info = JSON.parse(runNsbox(['info', '--json', 'talker'], cli).stdout);
    assert.equal(info.state, 'stopped');
    assert.deepEqual(info.exit, { state: 'stopped', exitCode: 0 });
  });

  describe('bad input leaves nothing behind', () => {
    const marker = `nsbox-marker-${randomBytes(3).toString('hex')}`;

    function assertRefused(args: string[], code: number, message: RegExp) {
      const scope = { cgroupParent, marker, ownDirs: [cli.stateDir] };
      const before = snapshotHost(scope);
      const result = runNsbox(args, cli);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.deepEqual(snapshotHost(scope), before);
      return result;
    }

    it('a missing rootfs', () => {
      assertRefused(['create', 'nope', '--rootfs', '/nonexistent/rootfs'], 2, /rootfs \/nonexistent\/rootfs does not exist/);
      assert.deepEqual(JSON.parse(runNsbox(['list', '--json'], cli).stdout), []);
    });

    it('a template that does not exist', () => {
      assertRefused(['create', 'nope', '--template', 'no-such-template'], 3, /no-such-template/);
      assert.deepEqual(JSON.parse(runNsbox(['list', '--json'], cli).stdout), []);
    });

    it('a name already in use', () => {
      assert.equal(runNsbox(['create', 'twice', '--template', 'busybox'], cli).code, 0);
      assertRefused(['create', 'twice', '--template', 'busybox'], 4, /a box named 'twice' already exists/);
    });

    it('an init that is not executable', () => {
      const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
      writeFileSync(join(rootfs, 'bin', marker), '#!/bin/sh\necho never\n');
      chmodSync(join(rootfs, 'bin', marker), 0o644);
      assert.equal(runNsbox(['create', 'noexec', '--rootfs', rootfs, '--', `/bin/${marker}`], cli).code, 0);
      assertRefused(['start', 'noexec'], 30, /box did not start: exec: .*(Permission denied|EACCES)/i);
      assert.equal(JSON.parse(runNsbox(['info', '--json', 'noexec'], cli).stdout).state, 'created');
    });
  });
});
