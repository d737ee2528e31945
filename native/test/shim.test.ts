/**
 * nsbox-shim against fake launchers (shell scripts that follow the launcher's contract of
 * PROTOCOL.md §1: read the program on fd 3, start an init, report on fd 4 and exit, so
 * that the init is re-parented to the shim). Real processes, real pipes, real pty.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { encodeProgram, shimPath } from '../lib/index.js';

interface ReadyOk {
  ok: true;
  pid: number;
  shimPid: number;
}
interface ReadyError {
  ok: false;
  step: string;
  errno: number;
  message: string;
}
type Ready = ReadyOk | ReadyError;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface StartedShim {
  proc: ChildProcess;
  ready: Ready;
  exited: Promise<Exit>;
}

const program = encodeProgram([
  ['mode', 'create'],
  ['exec', '/bin/sh'],
]);

/** The launcher's side of the contract, with the init given as a shell script. */
function okLauncher(): string {
  return `#!/bin/sh
cat <&3 >"$(dirname "$0")/program.bin"
exec 3<&- 5<&0
# an asynchronous command gets /dev/null as stdin unless told otherwise: give it fd 5
sh "$(dirname "$0")/init.sh" <&5 5<&- 4>&- &
echo "ok $!" >&4
exit 0
`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function procStatus(pid: number): Record<string, string> | undefined {
  try {
    const fields: Record<string, string> = {};
    for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const at = line.indexOf(':');
      if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1).trim();
    }
    return fields;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  const state = procStatus(pid)?.State;
  return state !== undefined && !state.startsWith('Z') && !state.startsWith('X');
}

function readLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        resolve(text.slice(0, nl));
      }
    };
    stream.on('data', onData);
    stream.on('end', () => reject(new Error(`ready pipe closed after ${JSON.stringify(text)}`)));
    stream.on('error', reject);
  });
}

describe('nsbox-shim', function () {
  this.timeout(20000);

  let dir: string;
  let boxDir: string;
  let shims: ChildProcess[];
  let pids: number[];

  before(() => {
    if (process.getuid?.() !== 0) {
      // The shim itself needs no privilege, but CI runs as root and .ci/run fails on skips.
      console.log('      (note: not running as root)');
    }
    assert.ok(existsSync(shimPath), `${shimPath} is not built: npm run build:native -w @nsbox/native`);
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-shim-'));
    boxDir = join(dir, 'box');
    mkdirSync(boxDir);
    shims = [];
    pids = [];
  });

  afterEach(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // Processes that are not our children (a detached shim, its init) are reaped elsewhere.
    await waitFor('killed processes to go', () => pids.every((pid) => !running(pid)), 2000).catch(() => {});
    for (const proc of shims) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGKILL');
        await gone;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function writeLauncher(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, 0o755);
    return path;
  }

  /** Starts the shim as the runtime does: detached, stdio /dev/null, fd 3 and 4 pipes. */
  async function startShim(options: { init?: string; launcher?: string; args?: string[] } = {}): Promise<StartedShim> {
    let launcher = options.launcher;
    if (!launcher) {
      const init = options.init ?? 'echo hello; exec sleep 1000';
      writeFileSync(join(dir, 'init.sh'), `${init}\n`);
      launcher = writeLauncher('launcher.sh', okLauncher());
    }
    const proc = spawn(shimPath, ['--box-dir', boxDir, '--launcher', launcher, ...(options.args ?? [])], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    shims.push(proc);
    const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const readyLine = readLine(proc.stdio[4] as Readable);
    const programPipe = proc.stdio[3] as Writable;
    programPipe.on('error', () => {}); // a launcher may die without reading it
    programPipe.end(program);
    const ready = JSON.parse(await readyLine) as Ready;
    if (ready.ok) pids.unshift(ready.pid); // killed first in afterEach, then the shim
    return { proc, ready, exited };
  }

  async function startOk(options: { init?: string; args?: string[] } = {}): Promise<StartedShim & { ready: ReadyOk }> {
    const started = await startShim(options);
    assert.equal(started.ready.ok, true, JSON.stringify(started.ready));
    return started as StartedShim & { ready: ReadyOk };
  }

  function consoleLog(name = 'console.log'): string {
    const path = join(boxDir, name);
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  it('reports ready with the pids, writes the pid files and adopts the init', async () => {
    const { proc, ready } = await startOk();
    assert.deepEqual(Object.keys(ready).sort(), ['ok', 'pid', 'shimPid']);
    assert.equal(ready.shimPid, proc.pid);
    assert.ok(Number.isInteger(ready.pid) && ready.pid > 0);
    assert.equal(readFileSync(join(boxDir, 'shim.pid'), 'utf8').trim(), String(proc.pid));
    assert.equal(readFileSync(join(boxDir, 'init.pid'), 'utf8').trim(), String(ready.pid));
    // The launcher exits after reporting; the init is re-parented to the shim (subreaper).
    await waitFor('init re-parented to the shim', () => procStatus(ready.pid)?.PPid === String(proc.pid));
    assert.ok(running(ready.pid));
  });

  it('gives the launcher the program on fd 3, a result pipe on fd 4 and no other fd', async () => {
    const launcher = writeLauncher(
      'launcher.sh',
      `#!/bin/sh
d="$(dirname "$0")"
cat <&3 >"$d/program.bin"
# a subshell, so that the redirection is not applied in the shell whose fds are listed
(find /proc/$$/fd -mindepth 1 -printf '%f %l\\n') >"$d/fds.txt"
sh -c 'exec sleep 1000' </dev/null >/dev/null 2>&1 3<&- 4>&- &
echo "ok $!" >&4
`,
    );
    const { ready } = await startShim({ launcher });
    assert.equal(ready.ok, true, JSON.stringify(ready));
    assert.deepEqual(readFileSync(join(dir, 'program.bin')), program);
    const fds = new Map(
      readFileSync(join(dir, 'fds.txt'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string]),
    );
    assert.match(fds.get('0') ?? '', /^pipe:/);
    assert.match(fds.get('1') ?? '', /^pipe:/);
    assert.equal(fds.get('1'), fds.get('2'), 'stdout and stderr share one pipe (log order kept)');
    assert.match(fds.get('4') ?? '', /^pipe:/);
    for (const [fd, target] of fds) {
      // dash keeps its script open on a high fd; anything else is a leak from the shim
      if (Number(fd) > 4) assert.equal(target, launcher, `fd ${fd} -> ${target} leaked into the launcher`);
    }
  });

  it('keeps running when its starter exits', async () => {
    writeFileSync(join(dir, 'init.sh'), 'exec sleep 1000\n');
    const launcher = writeLauncher('launcher.sh', okLauncher());
    const starter = join(dir, 'starter.mjs');
    writeFileSync(
      starter,
      `import { spawn } from 'node:child_process';
const [shim, boxDir, launcher, program] = process.argv.slice(2);
const child = spawn(shim, ['--box-dir', boxDir, '--launcher', launcher], {
  detached: true,
  stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
});
child.stdio[3].end(Buffer.from(program, 'hex'));
let text = '';
child.stdio[4].on('data', (chunk) => {
  text += chunk;
  if (text.includes('\\n')) {
    process.stdout.write(text);
    process.exit(0);
  }
});
child.unref();
`,
    );
    const proc = spawn(process.execPath, [starter, shimPath, boxDir, launcher, program.toString('hex')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0);
    const ready = JSON.parse(out) as Ready;
    assert.equal(ready.ok, true, out);
    if (!ready.ok) return;
    pids.push(ready.pid, ready.shimPid);

    // The runtime stops a box by signalling its init; stray job-control signals do not stop the shim.
    for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.kill(ready.shimPid, signal);
    await sleep(200);
    assert.ok(running(ready.shimPid), 'the shim outlived its starter');
    assert.notEqual(procStatus(ready.shimPid)?.PPid, String(proc.pid));
    assert.ok(running(ready.pid), 'the init keeps running');
    assert.ok(!existsSync(join(boxDir, 'exit.json')), 'and the shim records no exit');
  });

  it('writes the box output to console.log', async () => {
    await startOk({ init: 'echo hello; echo oops >&2; exec sleep 1000' });
    await waitFor('console.log', () => consoleLog() === 'hello\noops\n');
  });

  it('rotates console.log at --log-max and keeps --log-keep files', async () => {
    const { exited } = await startOk({ init: 'seq 1 2000; exit 0', args: ['--log-max', '1000', '--log-keep', '2'] });
    assert.deepEqual(await exited, { code: 0, signal: null });
    let expected = '';
    for (let i = 1; i <= 2000; i++) expected += `${i}\n`; // 8893 bytes
    assert.equal(consoleLog('console.log.1').length, 1000);
    assert.equal(consoleLog('console.log.2').length, 1000);
    assert.equal(consoleLog().length, expected.length % 1000);
    assert.ok(!existsSync(join(boxDir, 'console.log.3')), 'no more than --log-keep rotated files');
    const kept = consoleLog('console.log.2') + consoleLog('console.log.1') + consoleLog();
    assert.ok(expected.endsWith(kept), 'the rotated files hold the latest output, in order');
  });

  it('records the signal that killed init in exit.json and exits', async () => {
    const { ready, exited } = await startOk({ init: 'exec sleep 1000' });
    await waitFor('adoption', () => procStatus(ready.pid)?.PPid === String(ready.shimPid));
    const before = Date.now();
    process.kill(ready.pid, 'SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.ok(!running(ready.pid), 'init is gone');
    const exit = JSON.parse(readFileSync(join(boxDir, 'exit.json'), 'utf8'));
    assert.equal(exit.signal, 15);
    assert.equal(exit.exitCode, undefined);
    assert.ok(exit.at >= before - 1000 && exit.at <= Date.now(), `at ${exit.at}`);
    assert.deepEqual(
      readdirSync(boxDir).filter((name) => name.endsWith('.tmp')),
      [],
    );
  });

  it('records the exit code of the box in exit.json', async () => {
    const { exited } = await startOk({ init: 'echo bye; exit 7' });
    assert.deepEqual(await exited, { code: 0, signal: null });
    const exit = JSON.parse(readFileSync(join(boxDir, 'exit.json'), 'utf8'));
    assert.equal(exit.exitCode, 7);
    assert.equal(typeof exit.at, 'number');
    assert.equal(consoleLog(), 'bye\n');
  });

  it('stops draining the output 1 s after init exited when a leftover holds it', async () => {
    const { exited } = await startOk({ init: '(exec sleep 30) & echo $! >"$(dirname "$0")/box/leftover.pid"; exit 3' });
    const started = Date.now();
    assert.deepEqual(await exited, { code: 0, signal: null });
    pids.push(Number(readFileSync(join(boxDir, 'leftover.pid'), 'utf8')));
    assert.ok(Date.now() - started < 3000);
    assert.equal(JSON.parse(readFileSync(join(boxDir, 'exit.json'), 'utf8')).exitCode, 3);
  });

  it('records a killed init while a leftover still holds the output', async () => {
    const { ready, exited } = await startOk({ init: '(exec sleep 30) & echo $! >"$(dirname "$0")/box/leftover.pid"; exec sleep 1000' });
    await waitFor('leftover', () => existsSync(join(boxDir, 'leftover.pid')));
    pids.push(Number(readFileSync(join(boxDir, 'leftover.pid'), 'utf8')));
    await waitFor('adoption', () => procStatus(ready.pid)?.PPid === String(ready.shimPid));
    process.kill(ready.pid, 'SIGKILL');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(JSON.parse(readFileSync(join(boxDir, 'exit.json'), 'utf8')).signal, 9);
  });

  it('relays a launcher error, exits 1 and leaves no process behind', async () => {
    const launcher = writeLauncher(
      'launcher-error.sh',
      `#!/bin/sh
d="$(dirname "$0")"
cat <&3 >/dev/null
echo $$ >"$d/launcher.pid"
sleep 1000 </dev/null >/dev/null 2>&1 3<&- 4>&- &
echo $! >"$d/stray.pid"
echo "error mount 2 mount /proc: No such file or directory" >&4
exit 1
`,
    );
    const { ready, exited } = await startShim({ launcher });
    const strayPid = Number(readFileSync(join(dir, 'stray.pid'), 'utf8'));
    const launcherPid = Number(readFileSync(join(dir, 'launcher.pid'), 'utf8'));
    pids.push(strayPid);
    assert.deepEqual(ready, {
      ok: false,
      step: 'mount',
      errno: 2,
      message: 'mount /proc: No such file or directory',
    });
    const failedAt = Date.now();
    assert.deepEqual(await exited, { code: 1, signal: null });
    // Killed as soon as the launcher exited, not after the shim's 2 s grace period.
    assert.ok(Date.now() - failedAt < 1800, `exited after ${Date.now() - failedAt} ms`);
    // Both were our children (the stray through the subreaper) and are reaped, not zombies.
    assert.equal(procStatus(launcherPid), undefined, 'the launcher is gone');
    assert.equal(procStatus(strayPid), undefined, 'what the launcher left is gone');
    assert.ok(!existsSync(join(boxDir, 'exit.json')));
  });

  it('reports a launcher that dies without a result', async () => {
    const launcher = writeLauncher('launcher-crash.sh', '#!/bin/sh\nkill -9 $$\n');
    const { ready, exited } = await startShim({ launcher });
    assert.equal(ready.ok, false);
    if (ready.ok) return;
    assert.equal(ready.step, 'launcher');
    assert.match(ready.message, /killed by signal 9/);
    assert.deepEqual(await exited, { code: 1, signal: null });
  });

  it('reports a launcher that cannot be executed', async () => {
    const launcher = join(dir, 'not-executable');
    writeFileSync(launcher, '');
    const { ready, exited } = await startShim({ launcher });
    assert.equal(ready.ok, false);
    if (ready.ok) return;
    assert.equal(ready.step, 'shim');
    assert.equal(ready.errno, 13);
    assert.match(ready.message, /exec '.*not-executable': Permission denied/);
    assert.deepEqual(await exited, { code: 1, signal: null });
  });

  it('reports bad arguments on the ready pipe', async () => {
    const { ready, exited } = await startShim({ launcher: '/bin/true', args: ['--log-keep', 'many'] });
    assert.equal(ready.ok, false);
    if (ready.ok) return;
    assert.equal(ready.step, 'shim');
    assert.equal(ready.errno, 22);
    assert.match(ready.message, /--log-keep/);
    assert.deepEqual(await exited, { code: 1, signal: null });
  });

  it('keeps the box stdin open, so that a read waits instead of seeing EOF', async () => {
    const { exited } = await startOk({ init: 'timeout 0.5 cat; echo "cat ended with $?"' });
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(consoleLog(), 'cat ended with 124\n', 'cat was still reading when timeout stopped it');
  });

  it('gives a terminal box a pty as its stdio, 24x80', async () => {
    const { exited } = await startOk({ init: 'stty size; test -t 0 && test -t 1 && echo tty', args: ['--terminal'] });
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(consoleLog(), '24 80\r\ntty\r\n');
  });

  it('stays within its memory budget when idle', async () => {
    const { proc } = await startOk({ init: 'exec sleep 1000' });
    await sleep(300);
    const rss = Number(procStatus(proc.pid ?? 0)?.VmRSS?.replace(/\s*kB$/, ''));
    console.log(`      idle RSS of nsbox-shim: ${rss} kB`);
    assert.ok(rss > 0 && rss <= 1536, `${rss} kB`);
  });
});
