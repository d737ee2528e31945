/**
 * `nsbox stats` through the real CLI in local mode (no nsboxd, no sampler: the box is read
 * live, twice, for its CPU share), its refusals naming the field, and its history once
 * samples were kept.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliRunOptions, cliCommands, makeCliHost, requireRoot, useCleanup } from '@nsbox/testkit';
import type { StatsResult } from '../src/index.js';

const pluginEntry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');

describe('tracking: nsbox stats in local mode', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'nsbox stats');
  });
  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: [pluginEntry] });
  });

  const { nsbox, ok } = cliCommands(() => cli);

  it('shows a running box live, every box with --all, and refuses what it cannot show', () => {
    // Niced: it spins on idle CPU time only, and leaves the CLIs of this test theirs.
    ok('create', 'spin', '--template', 'busybox', '--', 'sh', '-c', 'renice -n 19 $$ >/dev/null; while :; do :; done');
    ok('start', 'spin');
    ok('create', 'idle', '--template', 'busybox', '--', 'sleep', '100000');
    const live = nsbox('--json', 'stats', 'spin').json() as StatsResult;
    assert.equal(live.stats?.box, 'spin');
    assert.equal(live.stats?.processes, 1);
    assert.ok((live.stats?.cpu.percent ?? 0) > 5, `a spinning box uses CPU: ${JSON.stringify(live.stats?.cpu)}`);
    assert.ok((live.stats?.memory.usage ?? 0) > 0);

    const text = ok('stats', 'spin').stdout;
    assert.match(text, /^box spin \(running\)/);
    assert.match(text, /^tasks\s+1 processes, 1 threads, \d+ open files/m);

    const all = nsbox('--json', 'stats', '--all').json() as StatsResult;
    assert.deepEqual(
      all.boxes?.map((box) => [box.box, box.state, box.processes]),
      [
        ['idle', 'created', undefined],
        ['spin', 'running', 1],
      ],
    );
    const stopped = nsbox('--json', 'stats', 'idle');
    assert.equal(stopped.code, 5, 'a box that is not running has no usage now');
    assert.match(stopped.stdout, /idle.*created/);
    const bad = nsbox('--json', 'stats', 'spin', '--since', 'ages');
    assert.equal(bad.code, 2);
    assert.equal(JSON.parse(bad.stdout).error.details.issues[0].path, 'since');
    // No agent sampled: the history is empty, and neither the CLI's reads nor a destroy made a database.
    const history = nsbox('--json', 'stats', 'spin', '--since', '1h').json() as StatsResult;
    assert.deepEqual(history.stats?.history?.points, []);
    ok('destroy', 'idle');
    assert.equal(existsSync(join(cli.stateDir, 'plugins', 'tracking', 'tracking.db')), false);
  });
});
