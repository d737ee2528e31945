/**
 * Plugins' actions and the one application layer (BoxApi), through every face at once: a
 * real nsboxd on a real socket, the real CLI in local mode and next to nsboxd, the SDK. An
 * action declared once is a CLI command, an API route, an SDK call and an OpenAPI operation;
 * through nsboxd it meets tokens, tenant scope, quotas and the audit log; `nsbox set` is the
 * limits plugin's action, and PATCH /boxes/:id takes the same checks.
 */

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNsboxApiError, type NsboxClient } from '@nsbox/client';
import type { LimitsActions } from '@nsbox/plugin-limits';
import { type CliRunOptions, requireRoot, useCleanup } from '@nsbox/testkit';
import { ACTION_PLUGIN, actionPlugin, type NoteActions } from './action-plugin.js';
import { hostPluginPackages, runCli, startTestDaemon, type TestDaemon } from './daemon-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 2 ** 20;

describe('actions and the BoxApi through every face', function () {
  this.timeout(240_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let admin: NsboxClient;
  let cli: CliRunOptions;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    // The daemon gets the plugin in code; a CLI process finds it through the host config.
    nsboxd = await startTestDaemon(cleanup, {
      plugins: [actionPlugin],
      hostConfig: { plugins: [...hostPluginPackages, join(here, 'action-plugin.ts')] },
    });
    admin = nsboxd.client;
    cli = { stateDir: nsboxd.stateDir, cgroupParent: nsboxd.cgroupParent };
  });

  async function nsbox(args: string[], options: { token?: string; expect?: number } = {}) {
    const result = await runCli(args, { ...cli, ...(options.token ? { env: { NSBOX_TOKEN: options.token } } : {}) });
    assert.equal(result.code, options.expect ?? 0, `nsbox ${args.join(' ')}: ${result.stderr}${result.stdout}`);
    return result;
  }

  async function tenantToken(name: string, quotas: Record<string, unknown> = {}): Promise<string> {
    await admin.tenants.create({ name, quotas });
    return (await admin.tokens.create({ name: `${name}-operator`, tenant: name, role: 'operator' })).token;
  }

  const sleeper = (extra: Record<string, unknown> = {}) => ({ template: 'busybox', process: { args: ['sleep', '100000'] }, ...extra });

  it('runs an action declared once as a CLI command (local and through nsboxd), an SDK call and an OpenAPI operation', async () => {
    await (await admin.boxes.create({ name: 'web', config: sleeper(), start: true })).wait();
    const audited = async () => (await admin.audit()).filter((entry) => entry.route === `POST /plugins/${ACTION_PLUGIN}/actions/stamp`);

    // In local mode the CLI runs it in-process: nsboxd hears nothing of it.
    const local = await nsbox(['--local', '--json', ACTION_PLUGIN, 'stamp', 'web', '--note', 'hi']);
    assert.deepEqual(JSON.parse(local.stdout), { box: 'web', state: 'running', note: 'hi', tenant: null });
    assert.deepEqual(await audited(), []);
    // Next to nsboxd it goes through the API: the same JSON, and the audit log names the box and the token.
    const remote = await nsbox(['--json', ACTION_PLUGIN, 'stamp', 'web', '--note', 'hi']);
    assert.equal(remote.stdout, local.stdout, '--json is the same through nsboxd and on its own');
    assert.deepEqual(
      (await audited()).map((entry) => [entry.box, entry.tokenName, entry.status]),
      [['web', 'admin (admin.token)', 200]],
    );
    assert.equal((await nsbox([ACTION_PLUGIN, 'stamp', 'web', '--note', 'human'])).stdout, 'stamped web: human\n', 'rendered by the action');

    // Bad input: the schema's answer, the same words on every face.
    const localBad = await nsbox(['--local', ACTION_PLUGIN, 'stamp', 'web', '--note', 'x'.repeat(30)], { expect: 2 });
    const remoteBad = await nsbox([ACTION_PLUGIN, 'stamp', 'web', '--note', 'x'.repeat(30)], { expect: 2 });
    assert.match(localBad.stderr, /^nsbox: invalid input of action notes stamp: note: .*20.* \[E_INVALID_ARGUMENT\]\n$/);
    assert.equal(remoteBad.stderr, localBad.stderr);
    await assert.rejects(admin.actions.run(ACTION_PLUGIN, 'stamp', { box: 'web', note: 'x'.repeat(30) }), (error) => {
      assert.ok(isNsboxApiError(error));
      assert.deepEqual([error.status, error.code, error.field], [400, 'E_INVALID_ARGUMENT', 'note']);
      assert.equal(`nsbox: ${error.message} [${error.code}]\n`, localBad.stderr);
      return true;
    });

    // The SDK: by name, and typed; a read-only action is a GET, not audited.
    assert.deepEqual(await admin.actions.run(ACTION_PLUGIN, 'stamp', { box: 'web', note: 'sdk' }), { box: 'web', state: 'running', note: 'sdk', tenant: null });
    const notes = admin.actions.plugin<NoteActions>(ACTION_PLUGIN);
    assert.deepEqual(await notes.peek({ box: 'web' }), { box: 'web', state: 'running' });
    assert.deepEqual(
      (await audited()).map((entry) => entry.status),
      [200, 200, 400, 400, 200],
      'each call through nsboxd, refused ones included; none of the local ones',
    );
    assert.ok(!(await admin.audit()).some((entry) => entry.route?.includes('/actions/peek')), 'a read-only action leaves no audit entry');

    // A tenant reaches its own boxes only: another tenant's box is missing (404), through the CLI and the SDK.
    const acme = await tenantToken('acme');
    const other = await tenantToken('other');
    await (await nsboxd.clientFor(acme).boxes.create({ name: 'site', config: sleeper(), start: true })).wait();
    assert.deepEqual(JSON.parse((await nsbox(['--json', ACTION_PLUGIN, 'stamp', 'site', '--note', 'mine'], { token: acme })).stdout), {
      box: 'site',
      state: 'running',
      note: 'mine',
      tenant: 'acme',
    });
    const refused = await nsbox([ACTION_PLUGIN, 'stamp', 'site', '--note', 'theirs'], { token: other, expect: 3 });
    assert.equal(refused.stderr, "nsbox: no box named 'site' [E_NOT_FOUND]\n");
    await assert.rejects(
      nsboxd.clientFor(other).actions.run(ACTION_PLUGIN, 'stamp', { box: 'site', note: 'theirs' }),
      (error) => isNsboxApiError(error) && error.status === 404 && error.code === 'E_NOT_FOUND',
    );
    await assert.rejects(
      nsboxd.clientFor(other).actions.plugin<NoteActions>(ACTION_PLUGIN).peek({ box: 'acme--site' }),
      (error) => isNsboxApiError(error) && error.status === 404,
    );
    const tenantEntries = (await admin.audit({ tenant: 'other' })).filter((entry) => entry.route?.endsWith('/actions/stamp'));
    assert.deepEqual(
      tenantEntries.map((entry) => [entry.status, entry.code, entry.box]),
      [
        [404, 'E_NOT_FOUND', 'site'],
        [404, 'E_NOT_FOUND', 'site'],
      ],
    );

    // Documented in OpenAPI with its input schema; listed with its route and command.
    const document = (await admin.openapi()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> }; parameters?: { name: string; in: string }[] }>
      >;
    };
    const stamp = document.paths[`/plugins/${ACTION_PLUGIN}/actions/stamp`]?.post;
    assert.deepEqual(Object.keys(stamp?.requestBody?.content['application/json']?.schema.properties ?? {}).sort(), ['box', 'note']);
    assert.deepEqual(
      document.paths[`/plugins/${ACTION_PLUGIN}/actions/peek`]?.get?.parameters?.map((parameter) => `${parameter.in}:${parameter.name}`),
      ['query:box'],
    );
    assert.ok(document.paths['/boxes/{id}/set']?.post, "the shared set (limits' options among others) is documented too");
    const listed = await admin.actions.list();
    assert.deepEqual(
      listed.filter((action) => action.plugin === ACTION_PLUGIN).map((action) => [action.name, action.method, action.command]),
      [
        ['stamp', 'POST', 'notes stamp'],
        ['peek', 'GET', 'notes peek'],
      ],
    );
    assert.deepEqual(
      listed.filter((action) => action.hostWide).map((action) => `${action.plugin} ${action.name}`),
      ['isolation ranges', 'limits pool-create', 'limits pool-list', 'limits pool-remove'],
      'the host-wide ones say so',
    );
  });

  it('nsbox set goes through nsboxd: audited, judged by the tenant quota, and the same JSON as in local mode', async () => {
    const acme = await tenantToken('acme', { memory: '128M' });
    await (await nsboxd.clientFor(acme).boxes.create({ name: 'app', config: sleeper({ limits: { memory: 64 * MiB } }), start: true })).wait();
    const setAudit = async () => (await admin.audit({ tenant: 'acme' })).filter((entry) => entry.route === 'POST /boxes/:id/set');

    const within = JSON.parse((await nsbox(['--json', 'set', 'app', '--memory', '100M'], { token: acme })).stdout);
    assert.equal(within.box, 'app', 'the tenant sees its own name for the box');
    assert.equal(within.limits.configured.memory, 100 * MiB);
    assert.equal(within.limits.effective.memory, 100 * MiB, 'applied live');

    const beyond = await nsbox(['set', 'app', '--memory', '200M'], { token: acme, expect: 9 });
    assert.match(beyond.stderr, /tenant 'acme' may use 134217728 bytes of memory in all; 0 are in use and the box asks for 209715200 \[E_QUOTA_EXCEEDED\]/);
    assert.deepEqual(
      (await setAudit()).map((entry) => [entry.box, entry.status, entry.code]),
      [
        ['app', 200, null],
        ['app', 403, 'E_QUOTA_EXCEEDED'],
      ],
    );
    assert.equal(((await admin.boxes.get('acme--app')).config.limits as { memory: number }).memory, 100 * MiB, 'the refused change changed nothing');

    // The SDK's call is the same route; the host admin's CLI in local mode prints what the API's action returns.
    await assert.rejects(
      nsboxd.clientFor(acme).boxes.set('app', { memory: '1G' }),
      (error) => isNsboxApiError(error) && error.status === 403 && error.code === 'E_QUOTA_EXCEEDED',
    );
    const shown = await admin.actions.plugin<LimitsActions>('limits').show({ box: 'acme--app' });
    assert.equal(shown.configured.memory, 100 * MiB);
    const local = JSON.parse((await nsbox(['--local', '--json', 'limits', 'acme--app'])).stdout);
    assert.deepEqual(local.configured, shown.configured);
    // Pools are the host admin's: a tenant's token is refused, through the SDK and the CLI.
    await assert.rejects(
      nsboxd.clientFor(acme).actions.run('limits', 'pool-list'),
      (error) => isNsboxApiError(error) && error.status === 403 && error.code === 'E_FORBIDDEN',
    );
    assert.match((await nsbox(['pool', 'list'], { token: acme, expect: 8 })).stderr, /this call needs the admin role; the token has operator \[E_FORBIDDEN\]/);
  });

  it('refuses an invalid limit change through PATCH /boxes/:id with the error nsbox set gives', async () => {
    await (await admin.boxes.create({ name: 'disky', config: sleeper({ limits: { memory: 64 * MiB, disk: '64M' } }), start: true })).wait();
    assert.equal((await admin.boxes.exec('disky', { command: ['dd', 'if=/dev/zero', 'of=/data', 'bs=1M', 'count=30'] })).exitCode, 0);
    await admin.boxes.stop('disky', { timeout: 0 });

    // Below what the stopped box's image holds: the next start could not shrink it.
    let apiMessage = '';
    await assert.rejects(admin.boxes.update('disky', { limits: { memory: 64 * MiB, disk: '20M' } }), (error) => {
      assert.ok(isNsboxApiError(error));
      assert.deepEqual([error.status, error.code], [400, 'E_INVALID_CONFIG']);
      apiMessage = error.message;
      return true;
    });
    assert.match(apiMessage, /^limits\.disk: disk 20M is below what box 'disky' already uses \(3\d(\.\d)?M\)$/);
    const expected = `nsbox: ${apiMessage} [E_INVALID_CONFIG]\n`;
    assert.equal((await nsbox(['--local', 'set', 'disky', '--disk', '20M'], { expect: 2 })).stderr, expected);
    assert.equal((await nsbox(['set', 'disky', '--disk', '20M'], { expect: 2 })).stderr, expected);
    assert.equal(((await admin.boxes.get('disky')).config.limits as { disk: number }).disk, 64 * MiB, 'the config is as it was');
  });
});
