/**
 * `nsbox exec` without -t, from an operator's terminal (issue 10, hole 2): a process in the
 * box must get no controlling terminal and no fd of the operator's terminal, so it can neither
 * type into the operator's shell with TIOCSTI nor keep reading keystrokes after exec returns.
 * The isolation plugin is off for the box: its seccomp rule against TIOCSTI is defence in
 * depth, this test is about what the launcher hands the box.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxRootfs, type CliRunOptions, cliArgs, makeTempDir, requireRoot, runNsbox, useCleanup } from '@nsbox/testkit';
import { createCgroupDriver } from '../src/cgroup/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Field 7 of /proc/PID/stat: the controlling terminal's device number (0: none). */
function ttyNr(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4]);
}

interface Attack {
  status: number | null;
  /** What the attacker printed (key=value lines), through the operator's pty. */
  report: Map<string, string>;
  /** What waits in the operator's terminal input once the command returned: a shell would run it. */
  pendingInput: string;
  callerSid: number;
  pty: string;
}

describe('nsbox exec from an operator terminal', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let bin: string;
  let cli: CliRunOptions;
  let cgroupParent: string;

  before(function () {
    requireRoot(this, 'running boxes');
    // Built once for the suite (the cleanup empties itself after each test).
    bin = mkdtempSync(join(tmpdir(), 'nsbox-test-tty-bin-'));
    execFileSync('gcc', ['-static', '-O2', '-o', join(bin, 'tty-attacker'), join(fixtures, 'tty-attacker.c')]);
    execFileSync('gcc', ['-O2', '-o', join(bin, 'pty-caller'), join(fixtures, 'pty-caller.c'), '-lutil']);
  });

  after(() => {
    if (bin) rmSync(bin, { recursive: true, force: true }); // two files of this suite's own
  });

  beforeEach(() => {
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
    cli = { stateDir: makeTempDir(cleanup, 'state'), cgroupParent };
    const { stateDir } = cli;
    const parent = cgroupParent;
    cleanup.add('destroy the boxes and cgroups of the test', async () => {
      const listed = runNsbox(['--local', 'list', '--json'], { stateDir, cgroupParent: parent });
      for (const box of JSON.parse(listed.stdout || '[]') as { name: string }[])
        runNsbox(['--local', 'destroy', '--force', box.name], { stateDir, cgroupParent: parent });
      const cgroups = createCgroupDriver({ parent });
      for (const name of cgroups.list()) await cgroups.remove(name);
      await cgroups.removeParent?.();
    });
  });

  /** Runs `command` on a fresh pty that is its controlling terminal, as in an operator's login shell. */
  function fromTerminal(command: string[]): Attack {
    const result = spawnSync(join(bin, 'pty-caller'), command, {
      encoding: 'utf8',
      env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
      timeout: 60_000,
    });
    const report = new Map<string, string>();
    for (const line of result.stdout.split(/\r?\n/)) {
      const match = /^(\w+)=(.*)$/.exec(line.trim());
      if (match?.[1] && match[2] !== undefined) report.set(match[1], match[2]);
    }
    const caller = new Map(result.stderr.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
    assert.ok(caller.has('input'), `the pty caller reported: ${result.stderr} (status ${result.status}, ${result.error ?? 'no spawn error'})`);
    return {
      status: result.status,
      report,
      pendingInput: caller.get('input') ?? '',
      callerSid: Number(caller.get('caller-sid')),
      pty: caller.get('pty') ?? '',
    };
  }

  it('negative control: the attacker types into the terminal of a process it shares a session with', () => {
    const marker = join(makeTempDir(cleanup, 'marker'), 'INJECTED');
    const attack = fromTerminal([join(bin, 'tty-attacker'), `echo INJECTED > ${marker}\n`]);
    assert.equal(attack.status, 0);
    const legacy = readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim();
    if (legacy === '0') {
      console.log('      (dev.tty.legacy_tiocsti=0: this kernel refuses TIOCSTI without CAP_SYS_ADMIN anyway)');
      return;
    }
    assert.equal(attack.report.get('fd0'), 'INJECTED', 'TIOCSTI works on this kernel for a process on its own terminal');
    assert.match(attack.pendingInput, new RegExp(`echo INJECTED > ${marker}`), 'and what it typed waits for the operator shell');
  });

  it('gives the box process a session of its own, no controlling terminal and no fd of the terminal', () => {
    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    copyFileSync(join(bin, 'tty-attacker'), join(rootfs, 'bin/tty-attacker'));
    const config = join(makeTempDir(cleanup, 'config'), 'box.json');
    writeFileSync(config, JSON.stringify({ plugins: { disable: ['isolation'] } }));
    assert.equal(runNsbox(['--local', 'create', 'victim', '--rootfs', rootfs, '--config', config, '--', 'sleep', '1000'], cli).code, 0);
    const started = runNsbox(['--local', 'start', 'victim'], cli);
    assert.equal(started.code, 0, started.stderr);

    const marker = join(makeTempDir(cleanup, 'marker'), 'INJECTED');
    const attack = fromTerminal([
      process.execPath,
      ...cliArgs(['--local', 'exec', 'victim', '--', '/bin/tty-attacker', `echo INJECTED > ${marker}\n`, 'linger'], cli),
    ]);
    assert.equal(attack.status, 0, `exec exit status; it printed ${[...attack.report].join(' ')}`);
    assert.equal(attack.pendingInput, '', 'nothing was typed into the operator terminal');
    for (const fd of ['fd0', 'fd1', 'fd2', 'tty']) assert.notEqual(attack.report.get(fd), 'INJECTED', `TIOCSTI on ${fd}`);
    assert.equal(attack.report.get('devtty'), 'ENXIO', 'no controlling terminal: /dev/tty cannot be opened');
    assert.equal(attack.report.get('tty_nr'), '0');
    // In the box's pid namespace: the process leads its own session (a session led from
    // outside the namespace, the caller's, would read as 0).
    assert.equal(attack.report.get('sid'), attack.report.get('pid'), 'its own session');
    assert.ok(attack.callerSid > 0);
    assert.equal(existsSync(marker), false);

    // What it left behind holds no fd of the operator terminal and has no controlling tty.
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    const pids = cgroups.list().flatMap((name) => cgroups.pids(name));
    const lingering = pids.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000600\u0000');
    assert.equal(lingering.length, 1, `the attacker left its process behind (box processes: ${pids.join(', ')})`);
    for (const pid of pids) {
      assert.equal(ttyNr(pid), 0, `box process ${pid} has no controlling terminal`);
      for (const fd of [0, 1, 2]) assert.notEqual(readlinkSync(`/proc/${pid}/fd/${fd}`), attack.pty, `box process ${pid} fd ${fd}`);
    }
  });
});
