/**
 * The sharing commands through the real `nsbox` CLI, beside limits: `create --shared`, `set`
 * (limits) and `sharing set` leaving each other's knobs through the runtime's arbitration,
 * `info` showing configured and enforced values, `sharing templates`, `dedupe --dry-run`, bad input refused.
 */

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliRunOptions, cliCommands, makeCliHost, requireRoot, useCleanup } from '@nsbox/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const plugins = [join(here, '../src/index.ts'), join(here, '../../limits/src/index.ts')];
const MiB = 2 ** 20;

describe('sharing: the nsbox commands', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'the sharing commands');
  });

  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins });
  });

  const { nsbox, ok } = cliCommands(() => cli);

  it('nsbox set and nsbox sharing set leave each other’s knobs; info shows configured and enforced; the box runs on the shared layer', () => {
    ok('create', 'web', '--template', 'busybox', '--shared', '--', 'sleep', '100000');
    ok('start', 'web');
    ok('set', 'web', '--cpus', '0.3', '--memory', '256M');
    const shared = ok('sharing', 'set', 'web', '--fill-rate', '50', '--bucket', '20', '--weight', '300', '--memory-guarantee', '64M');
    assert.match(shared.stdout, /applied live/);
    const enforced = () => ok('info', 'web', '--json').json().details.sharing;
    let info = enforced();
    assert.deepEqual(info.enforced.cpu, { fillRateMs: 30, intervalMs: 100, bucketMs: 20, weight: 300 }, 'limits’ stricter cap, sharing’s bucket and weight');
    assert.deepEqual(info.owners['cpu.quota'], ['limits']);
    assert.equal(info.configured.cpu.fillRate, 50);
    assert.equal(info.layers[0].template, 'busybox', 'on the shared layer');

    ok('set', 'web', '--cpus', 'unlimited');
    info = enforced();
    assert.deepEqual(
      info.enforced.cpu,
      { fillRateMs: 50, intervalMs: 100, bucketMs: 20, weight: 300 },
      'limits let go: sharing’s fill rate holds, its knobs untouched',
    );
    ok('sharing', 'set', 'web', '--weight', '120');
    const limits = ok('info', 'web', '--json').json().details.limits;
    assert.equal(limits.effective.memory, 256 * MiB, 'sharing set left limits’ memory');
    assert.equal(enforced().enforced.cpu.weight, 120);

    const refused = nsbox('sharing', 'set', 'web', '--bucket', '999');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /sharing\.cpu\.bucket/);
    assert.equal(enforced().enforced.cpu.bucketMs, 20, 'nothing changed');

    const templates = ok('sharing', 'templates', '--json').json();
    assert.equal(templates.layers.length, 1);
    assert.equal(templates.layers[0].template, 'busybox');
    assert.equal(templates.layers[0].boxes.length, 1);

    const dry = ok('dedupe', '--dry-run', '--min-size', '1K');
    assert.match(dry.stdout, /^would merge 0 file\(s\), saving 0 \(0 bytes\)\n {2}web: left alone \(running: only a stopped box is deduplicated\)$/m);
    const badSize = nsbox('dedupe', '--min-size', 'lots');
    assert.notEqual(badSize.code, 0);
    assert.match(badSize.stderr, /minSize/);
  });
});
