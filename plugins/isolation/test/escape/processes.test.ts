/**
 * Escapes towards the host's processes, IPC and terminals: see, ptrace, signal or renice a
 * host process, ptrace the process the host sends into the box, see or attach host SysV
 * IPC objects, type into a terminal (TIOCSTI) — one of the box's own, or the operator's
 * that `nsbox exec` without -t must not hand over. Each attack has its control.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { native } from '@nsbox/native';
import { cliArgs, repoRoot, requireRoot } from '@nsbox/testkit';
import { type Attacker, escapeSuite } from './escape-kit.js';

/** Field 19 of /proc/PID/stat: the nice value. */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

describe('escape suite: host processes, IPC and terminals', () => {
  let victim: ChildProcess | undefined;
  let shm: { id: string; key: string } | undefined;

  before(function () {
    requireRoot(this, 'the escape suite');
    // A host process of host root, the target of every process attack.
    victim = spawn('sleep', ['100000'], { stdio: 'ignore' });
  });

  const suite = escapeSuite({ target: {}, privileged: { isolation: { privileged: true } } });

  before(() => {
    // A host SysV shared memory segment, made with the attack program run on the host.
    const key = `0x6e73${randomInt(0x1000, 0xffff).toString(16)}`;
    const made = spawnSync(suite.attackBinary(), ['shmcreate', key], { encoding: 'utf8' }).stdout.trim();
    assert.match(made, /^ok \d+$/, made);
    shm = { id: made.slice(3), key };
  });

  after(() => {
    victim?.kill('SIGKILL');
    if (shm) spawnSync('ipcrm', ['-m', shm.id]);
  });

  const pid = () => String(victim?.pid);

  suite.attempt({
    class: 'host processes',
    title: 'see a host process',
    attack: async (on) => {
      const seen = await on.sh(`cat /proc/${pid()}/cmdline 2>&1`);
      return { escaped: seen.stdout.includes('sleep'), detail: seen.stdout.trim() };
    },
    control: 'host',
    blocked: async (detail, on) => {
      assert.match(detail, /No such file or directory/);
      // Its own init, and this exec: sh, ls, grep.
      const count = await on.sh(`ls /proc | grep -c '^[0-9]'`);
      assert.ok(Number(count.stdout.trim()) <= 4, `the box sees only its own processes: ${count.stdout}`);
    },
  });

  for (const on of ['target', 'privileged']) {
    suite.attempt({
      class: 'host processes',
      title: `ptrace a host process (${on})`,
      on,
      attack: (attacker) => attacker.run('ptrace', pid()),
      control: 'host',
      blocked: (line) => {
        // The control attached and exited: the victim is detached, stopped by the attach.
        process.kill(victim?.pid as number, 'SIGCONT');
        assert.equal(line, 'err ESRCH');
      },
    });

    suite.attempt({
      class: 'host processes',
      title: `signal a host process (${on})`,
      on,
      attack: (attacker) => attacker.run('kill', pid(), '0'),
      control: 'host',
      blocked: async (line, attacker) => {
        assert.equal(line, 'err ESRCH');
        // kill(-1) reaches every process the sender may signal: in a box, its own.
        await attacker.run('kill', '-1', '15');
        assert.equal(victim?.exitCode, null, 'the host process lives');
        assert.equal(victim?.signalCode, null);
        await suite.kit().host.manager.sync(attacker.name);
      },
    });
  }

  suite.attempt({
    class: 'host processes',
    title: 'renice a host process',
    attack: (on) => on.run('renice', pid(), String(niceOf(victim?.pid as number))),
    control: 'host',
    blocked: async (line) => {
      assert.equal(line, 'err ESRCH');
      const before = niceOf(victim?.pid as number);
      const ours = niceOf(process.pid);
      // PRIO_USER 0 is "my uid": in a box, only the box's processes of that uid change.
      assert.equal(await suite.attacker('privileged').run('renice-user', '0', '19'), 'ok reniced');
      assert.equal(await suite.attacker('target').run('renice-user', '0', '19'), 'ok reniced');
      assert.equal(niceOf(victim?.pid as number), before, 'the host process keeps its nice value');
      assert.equal(niceOf(process.pid), ours, 'and so does this test, a host root process');
    },
  });

  // The box's root watches its /proc for a process that is not one of its programs (the
  // host entering the box, before it execs) and attaches to it: that process still holds
  // the host's view until it execs. The host enters the box meanwhile. A process seized
  // just after it exec'd a box program, found exited when its exe is read again (`sh -c
  // true` is short), is no attach to the host's: the watcher counts it as gone (see
  // ptrace_watch in attack.c).
  const ptraceEntering = async (on: Attacker) => {
    const watcher = on.run('ptrace-watch', '3');
    let entered = 0;
    for (const deadline = Date.now() + 2500; Date.now() < deadline; entered++) await on.sh('true');
    const report = await watcher;
    const seen = Number(/seen=(\d+)/.exec(report)?.[1] ?? 0);
    return { escaped: /attached=[1-9]/.test(report), detail: `${report} (the host entered ${entered} times)`, seen };
  };
  suite.attempt({
    class: 'ptrace of the process entering the box',
    title: 'ptrace the host process that enters the box',
    attack: async (on) => {
      const { escaped, detail, seen } = await ptraceEntering(on);
      // A watcher that saw no process proves nothing.
      assert.ok(seen > 0, `the watcher saw the entering process: ${detail}`);
      return { escaped, detail };
    },
    // With host root's CAP_SYS_PTRACE the entering process is open to a tracer.
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_SYS_PTRACE'] } } } },
    blocked: (detail) => assert.match(detail, /^err seen=[1-9]\d* attached=0 gone=\d+ last=EPERM/),
  });

  suite.attempt({
    class: 'host SysV IPC',
    title: 'see host SysV IPC objects',
    attack: (on) => on.run('shmget', (shm as { key: string }).key),
    control: 'host',
    blocked: async (line, on) => {
      const { key } = shm as { key: string };
      assert.equal(line, 'err ENOENT');
      const listed = await on.sh('cat /proc/sysvipc/shm');
      assert.doesNotMatch(listed.stdout, new RegExp(`\\b${Number.parseInt(key, 16)}\\b`));
      assert.equal(listed.stdout.trim().split('\n').length, 1, 'only the header line');
    },
  });

  for (const on of ['target', 'privileged']) {
    suite.attempt({
      class: 'host SysV IPC',
      title: `attach a host shared memory segment (${on})`,
      on,
      attack: (attacker) => attacker.run('shmat', (shm as { id: string }).id),
      control: 'host',
      blocked: (line) => assert.equal(line, 'err EINVAL', 'its own IPC namespace'),
    });
  }

  suite.attempt({
    class: 'TIOCSTI',
    title: "type into a terminal of the box's own (seccomp denies TIOCSTI)",
    attack: (on) => on.run('tiocsti-own-pty'),
    control: { config: { isolation: { seccomp: { profile: 'unconfined' } } } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  // The operator's terminal: `script` gives the CLI a terminal of its own as its controlling
  // one, as an operator's shell would; after `nsbox exec` (no -t) returns, the shell reads
  // its terminal: what the box typed there would run on the host.
  const operator = (on: Attacker, command: string) => {
    const injected = `echo INJECTED-${randomBytes(3).toString('hex')}`;
    const cli = { stateDir: suite.kit().stateDir };
    const inner = on.onHost
      ? `${shellQuote(suite.attackBinary())} ${command} ${shellQuote(`${injected}\n`)}`
      : [process.execPath, ...cliArgs(['exec', on.name, '--', '/attack', command, `${injected}\n`], cli)].map(shellQuote).join(' ');
    const script = `${inner}; read -t 2 line; echo "GOT:$line"`;
    // script's stdin stays open and silent: at EOF it would pass ^D to the terminal, which can
    // reach the shell's `read` before the typed text and make even the host control miss.
    const [silentIn, keepOpen] = native().pipe();
    const run = spawnSync('script', ['-qec', script, '/dev/null'], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: repoRoot,
      stdio: [silentIn, 'pipe', 'pipe'],
      // script runs the line with $SHELL, /bin/sh (dash) where it is unset, as under CI: dash
      // has no `read -t`, so the shell would never read what was typed.
      env: { ...process.env, SHELL: '/bin/bash', NSBOX_CGROUP_PARENT: suite.kit().cgroupParent },
    });
    native().close(silentIn);
    native().close(keepOpen);
    const answer = /^(ok|err) .*$/m.exec(run.stdout)?.[0] ?? `no answer: ${run.stdout}${run.stderr}`;
    return { answer, typed: run.stdout.includes(`GOT:${injected}`), output: run.stdout };
  };
  suite.attempt({
    class: 'TIOCSTI',
    title: "type into the operator's terminal through nsbox exec (no -t)",
    attack: async (on) => {
      const { answer, typed } = operator(on, 'tiocsti');
      return { escaped: typed, detail: answer };
    },
    control: 'host',
    blocked: (detail) => assert.match(detail, /^err (EPERM|ENOTTY|EIO)$/, detail),
  });

  suite.attempt({
    class: 'TIOCSTI',
    title: "keep the operator's terminal as controlling terminal (nsbox exec, no -t)",
    attack: async (on) => operator(on, 'ctty').answer,
    control: 'host',
    blocked: (line) => assert.equal(line, 'err ENXIO', 'no controlling terminal in the box'),
  });
});
