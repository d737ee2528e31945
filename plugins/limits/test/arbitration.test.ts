/**
 * Limits next to another plugin that owns a knob, through the real `nsbox` CLI (one process
 * per command): `nsbox set` merges with what the other plugin declared in an earlier process,
 * so changing memory never resets the other plugin's pids limit, and the strictest pids
 * limit holds whoever sets it.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCgroupDriver } from '@nsbox/runtime';
import { type CliRunOptions, makeTempDir, requireRoot, runNsbox, useCleanup } from '@nsbox/testkit';
import { PID_CAP } from './fixtures/pid-cap-plugin.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 2 ** 20;

describe('limits beside a plugin that owns the pids limit', function () {
  this.timeout(300_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;
  let cgroupParent: string;

  before(function () {
    requireRoot(this, 'the limits commands');
  });

  beforeEach(() => {
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
    const stateDir = makeTempDir(cleanup, 'state');
    const plugins = [join(here, '../src/index.ts'), join(here, 'fixtures/pid-cap-plugin.ts')];
    writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, plugins }));
    cli = { stateDir, cgroupParent };
    const parent = cgroupParent;
    cleanup.add('destroy boxes and cgroups', async () => {
      const listed = runNsbox(['list', '--json'], cli);
      for (const box of JSON.parse(listed.stdout || '[]') as { name: string }[]) runNsbox(['destroy', '--force', box.name], cli);
      const cgroups = createCgroupDriver({ parent });
      for (const name of cgroups.list()) await cgroups.remove(name);
      cgroups.removeParent();
    });
  });

  function ok(...args: string[]) {
    const result = runNsbox(args, cli);
    assert.equal(result.code, 0, `nsbox ${args.join(' ')}: ${result.stderr}`);
    return result;
  }

  /** A file of the box's cgroup, read straight from the kernel. */
  function kernel(controller: string, file: string): string {
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    const [name, ...others] = cgroups.list();
    assert.ok(name !== undefined && others.length === 0, `one box cgroup under ${cgroupParent}`);
    return cgroups.read(name, controller, file).trim();
  }

  it('nsbox set --memory changes memory and leaves the pids limit the other plugin owns', () => {
    ok('create', 'web', '--template', 'busybox', '--', 'sleep', '100000');
    ok('start', 'web');
    assert.equal(kernel('pids', 'pids.max'), String(PID_CAP), "the plugin's pids limit holds over limits' default (4096)");

    ok('set', 'web', '--memory', '256M');
    assert.equal(kernel('memory', 'memory.limit_in_bytes'), String(256 * MiB));
    assert.equal(kernel('pids', 'pids.max'), String(PID_CAP), 'nsbox set --memory did not reset it');

    // limits' own pids limit: the strictest of the two holds.
    ok('set', 'web', '--pids', '500');
    assert.equal(kernel('pids', 'pids.max'), String(PID_CAP), '500 is looser than the other plugin’s 77');
    assert.equal(JSON.parse(ok('limits', 'web', '--json').stdout).effective.pids, PID_CAP, 'nsbox limits shows what the kernel enforces');
    ok('set', 'web', '--pids', '50');
    assert.equal(kernel('pids', 'pids.max'), '50');
    ok('set', 'web', '--pids', 'unlimited');
    assert.equal(kernel('pids', 'pids.max'), String(PID_CAP), "limits let go of pids: the other plugin's limit is back");
    assert.equal(kernel('memory', 'memory.limit_in_bytes'), String(256 * MiB), 'memory kept throughout');

    ok('stop', '--timeout', '0', 'web');
    ok('start', 'web');
    assert.deepEqual(
      [kernel('pids', 'pids.max'), kernel('memory', 'memory.limit_in_bytes')],
      [String(PID_CAP), String(256 * MiB)],
      'both owners declare again at the next start',
    );
  });
});
