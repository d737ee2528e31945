/**
 * `nsbox top` in a real terminal (tmux, on a server of the test's own): it refreshes, shows
 * every box with its CPU share, sorts on a key and quits on q. Slow (a CLI per step), so it
 * runs with `npm run test:slow`.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliRunOptions, cliArgs, cliCommands, makeCliHost, repoRoot, requireRoot, useCleanup } from '@nsbox/testkit';
import { waitFor } from './support.js';

const pluginEntry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');

describe('tracking: nsbox top', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'nsbox top');
  });
  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: [pluginEntry] });
  });

  const { ok } = cliCommands(() => cli);

  it('refreshes, sorts on a key and quits on q in a terminal', async () => {
    // Niced: it spins on idle CPU time only.
    ok('create', 'spin', '--template', 'busybox', '--', 'sh', '-c', 'renice -n 19 $$ >/dev/null; while :; do :; done');
    ok('start', 'spin');
    ok('create', 'idle', '--template', 'busybox', '--', 'sleep', '100000');
    const server = `nsbox-test-top-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', server, ...args], { encoding: 'utf8' });
    cleanup.add('stop the test tmux server', () => {
      tmux('kill-server');
    });
    const command = [process.execPath, ...cliArgs(['top', '--interval', '0.5'], cli)].map((word) => `'${word}'`).join(' ');
    const started = tmux(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      '160',
      '-y',
      '40',
      `cd ${repoRoot} && NSBOX_CGROUP_PARENT=${cli.cgroupParent} exec ${command}`,
    );
    assert.equal(started.status, 0, started.stderr);
    const screen = () => tmux('capture-pane', '-p', '-t', 'top').stdout;
    assert.ok(await waitFor(() => /^spin\s+running\s+\d+\.\d%/m.test(screen()), 30_000), `top shows the running box:\n${screen()}`);
    assert.match(screen(), /^BOX\s+STATE\s+CPU\s+MEMORY\s+IO\s+NET\s+PROCS$/m);
    assert.match(screen(), /sorted by cpu/);
    const order = () => [...screen().matchAll(/^(spin|idle)\s/gm)].map((match) => match[1]);
    assert.deepEqual(order(), ['spin', 'idle'], 'by CPU: the spinning box first');
    tmux('send-keys', '-t', 'top', 'n');
    assert.ok(await waitFor(() => /sorted by name/.test(screen()), 5000), screen());
    assert.deepEqual(order(), ['idle', 'spin'], 'by name');
    tmux('send-keys', '-t', 'top', 'q');
    assert.ok(await waitFor(() => tmux('has-session', '-t', 'top').status !== 0, 5000), 'q quits top (its session ends with it)');
  });
});
