/**
 * `nsbox console NAME` through the real CLI, from an operator's terminal: a pty of the test's
 * own (pty-relay.py) is the CLI's controlling terminal, the box is a busybox shell on its
 * console; what is typed reaches the shell and its echo and answer come back, Ctrl-] detaches
 * (exit 0, the box still running), and the console is free for the next attach. The same
 * through nsboxd (the CLI goes through it when it serves the state dir: its websocket).
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliRunOptions, cliArgs, cliCommands, makeCliHost, makeTempDir, repoRoot, requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from '../../daemon/test/daemon-fixture.js';

const relay = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pty-relay.py');
const virtualisation = join(repoRoot, 'plugins/virtualisation/src/index.ts');
const DETACH = '\x1d'; // Ctrl-]

interface Terminal {
  /** Everything the terminal showed so far (the CLI's stdout and stderr, as on a screen). */
  screen(): string;
  type(text: string): void;
  /** Waits until the screen matches, failing with what it shows. */
  until(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  /** Ends the relay if it still runs (its pty closes: the CLI gets SIGHUP). */
  close(): void;
}

/** `nsbox ARGS` on a pty of its own, as run from an operator's terminal. */
function onTerminal(args: string[], cli: CliRunOptions): Terminal {
  const child = spawn('python3', [relay, process.execPath, ...cliArgs(args, cli)], {
    cwd: repoRoot,
    env: { ...process.env, NSBOX_CGROUP_PARENT: cli.cgroupParent },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
  });
  child.stdin.on('error', () => undefined); // typed after the CLI ended: nothing to tell
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    screen: () => screen,
    type: (text) => void child.stdin.write(text),
    async until(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(screen)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`the terminal never showed ${pattern}: ${JSON.stringify(screen)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    exited,
    close: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

describe('nsbox console from an operator terminal', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'the console of a real box');
  });

  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: [virtualisation] });
  });

  const { ok } = cliCommands(() => cli);

  it('attaches to a busybox shell on the box console, types a line, sees its echo and answer, and detaches with Ctrl-]', async () => {
    const config = join(makeTempDir(cleanup, 'console'), 'box.json');
    writeFileSync(config, JSON.stringify({ process: { args: ['sh'], terminal: true } }));
    ok('create', 'con', '--template', 'busybox', '--config', config);
    ok('start', 'con');

    const first = onTerminal(['console', 'con'], cli);
    cleanup.add('end the console client', () => first.close());
    await first.until(/attached to the console of con: Ctrl-\] detaches/);
    // The shell computes the answer: the echo of the typed line shows the expression, the
    // answer its value, so the two are told apart.
    first.type('kept=yes; echo typed-$((6*7))-here\r');
    await first.until(/kept=yes; echo typed-\$\(\(6\*7\)\)-here/);
    await first.until(/typed-42-here/);
    first.type(DETACH);
    assert.equal(await first.exited, 0, `the console command exits 0 on Ctrl-]: ${JSON.stringify(first.screen())}`);
    assert.match(first.screen(), /\ndetached\r*\n/, 'the CLI says it detached');
    assert.equal(
      ok('list', '--json')
        .json()
        .find((box: { name: string }) => box.name === 'con')?.state,
      'running',
      'the box runs on',
    );

    // Detached: the console is free, and the shell is the same one (its variable kept).
    const second = onTerminal(['console', 'con'], cli);
    cleanup.add('end the second console client', () => second.close());
    await second.until(/attached to the console of con/);
    second.type('echo again-$kept-$((6*7))\r');
    await second.until(/again-yes-42/);
    second.type(DETACH);
    assert.equal(await second.exited, 0);
  });

  it('does the same through nsboxd, on its console websocket', async () => {
    const nsboxd = await startTestDaemon(cleanup);
    const remote = { stateDir: nsboxd.stateDir, cgroupParent: nsboxd.cgroupParent };
    const config = { template: 'busybox', process: { args: ['sh'], terminal: true } };
    await (await nsboxd.client.boxes.create({ name: 'rcon', config, start: true })).wait();

    const term = onTerminal(['console', 'rcon'], remote);
    cleanup.add('end the console client', () => term.close());
    await term.until(/attached to the console of rcon: Ctrl-\] detaches/);
    term.type('echo remote-$((6*7))\r');
    await term.until(/remote-42/);
    term.type(DETACH);
    assert.equal(await term.exited, 0, JSON.stringify(term.screen()));
    assert.match(term.screen(), /\ndetached\r*\n/);
    assert.equal((await nsboxd.client.boxes.get('rcon')).state, 'running', 'the box runs on');
    // Through nsboxd indeed: attached again, the console ends when nsboxd goes (a local
    // attach would not notice).
    const again = onTerminal(['console', 'rcon'], remote);
    cleanup.add('end the second console client', () => again.close());
    await again.until(/attached to the console of rcon/);
    await nsboxd.daemon.close(1000);
    await again.until(/the console closed/);
    assert.equal(await again.exited, 0);
  });
});
