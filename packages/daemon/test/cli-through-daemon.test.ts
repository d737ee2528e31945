/**
 * The CLI talks to nsboxd when it serves the state directory, and works on its own when it
 * does not: both faces see the same boxes, and `--json` prints the same either way.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CliRunOptions, requireRoot, useCleanup } from '@nsbox/testkit';
import { runCli, startTestDaemon, type TestDaemon } from './daemon-fixture.js';

describe('the CLI next to nsboxd', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup);
    cli = { stateDir: nsboxd.stateDir, cgroupParent: nsboxd.cgroupParent };
  });

  const json = async (args: string[], options: CliRunOptions = cli) => {
    const result = await runCli(['--json', ...args], options);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };

  it('sees the boxes of the API, goes through it, and prints the same JSON as on its own', async () => {
    await (await nsboxd.client.boxes.create({ name: 'from-api', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
    assert.equal((await runCli(['create', 'from-cli', '--template', 'busybox', '--', 'sleep', '1000'], cli)).code, 0);
    assert.equal((await runCli(['start', 'from-cli'], cli)).code, 0);
    // The daemon did it: its audit log names the admin token.
    const audit = await nsboxd.client.audit();
    assert.ok(audit.some((entry) => entry.route === 'POST /boxes' && entry.tokenName === 'admin (admin.token)' && entry.status === 202));
    assert.ok(audit.some((entry) => entry.route === 'POST /boxes/:id/start' && entry.box === 'from-cli'));

    for (const args of [['list'], ['info', 'from-api'], ['info', 'from-cli'], ['plugins'], ['list', '--state', 'running']]) {
      assert.equal(await json(args), await json(['--local', ...args]), `${args.join(' ')} --json is the same through nsboxd and on its own`);
    }
    assert.deepEqual(
      (JSON.parse(await json(['list'])) as { name: string }[]).map((box) => box.name),
      ['from-api', 'from-cli'],
    );

    const exec = await runCli(['exec', 'from-api', '--', 'sh', '-c', 'echo out; echo err >&2; exit 5'], cli);
    assert.equal(exec.code, 5);
    assert.equal(exec.stdout, 'out\n');
    assert.equal(exec.stderr, 'err\n');
    assert.equal((await runCli(['exec', 'from-api', '--', 'cat'], { ...cli, input: 'piped\n' })).stdout, 'piped\n');
    assert.deepEqual(JSON.parse(await json(['exec', 'from-api', '--', 'hostname'])), { exitCode: 0, stdout: 'from-api\n', stderr: '' });

    const run = await runCli(['run', '--rm', '--template', 'busybox', 'one-shot', '--', 'sh', '-c', 'echo ran; exit 7'], cli);
    assert.equal(run.code, 7, run.stderr);
    assert.equal(run.stdout, 'ran\n');
    const missing = await runCli(['start', 'no-such-box'], cli);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no box named 'no-such-box' \[E_NOT_FOUND\]/);

    assert.equal((await runCli(['stop', '--timeout', '1', 'from-cli'], cli)).code, 0);
    assert.equal((await nsboxd.client.boxes.get('from-cli')).state, 'stopped');
    assert.equal((await runCli(['destroy', 'from-cli'], cli)).code, 0);
    assert.deepEqual(
      (await nsboxd.client.boxes.list()).map((box) => box.name),
      ['from-api'],
    );
  });

  it('works on its own once nsboxd is gone, on the same boxes', async () => {
    await (await nsboxd.client.boxes.create({ name: 'survivor', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
    const through = await json(['list']);
    await nsboxd.daemon.close(1000);
    assert.ok(!existsSync(join(nsboxd.stateDir, 'nsboxd.json')), 'nsboxd says it is gone');
    assert.equal(await json(['list']), through);
    const exec = await runCli(['exec', 'survivor', '--', 'hostname'], cli);
    assert.equal(exec.stdout, 'survivor\n');
    assert.equal((await runCli(['destroy', '--force', 'survivor'], cli)).code, 0);
  });
});
