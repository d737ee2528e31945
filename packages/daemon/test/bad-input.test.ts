/**
 * Bad input, each kind from the issue: a JSON error with a stable code and the field's path,
 * the right 4xx status, and nothing changed in the store.
 */

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxApiError } from '@nsbox/client';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon, type TestDaemon } from './daemon-fixture.js';
import { type RawResponse, raw, storeSnapshot } from './raw-http.js';

interface Case {
  title: string;
  method: string;
  path: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  rawBody?: string;
  contentType?: string;
  token?: 'admin' | 'none' | 'expired' | 'other-tenant' | 'garbage';
  status: number;
  code: string;
  field: string;
}

const sleeper = { template: 'busybox', process: { args: ['sleep', '1000'] } };

const cases: Case[] = [
  { title: 'malformed JSON', method: 'POST', path: '/boxes', rawBody: '{"name": "x", ', status: 400, code: 'E_INVALID_ARGUMENT', field: '(body)' },
  { title: 'a body that is not an object', method: 'POST', path: '/boxes', body: [1, 2], status: 400, code: 'E_INVALID_ARGUMENT', field: '(body)' },
  {
    title: 'a body that is not JSON at all',
    method: 'POST',
    path: '/boxes',
    rawBody: 'name=x',
    contentType: 'text/plain',
    status: 415,
    code: 'E_INVALID_ARGUMENT',
    field: '(body)',
  },
  {
    title: 'a body too large',
    method: 'POST',
    path: '/boxes',
    rawBody: JSON.stringify({ name: 'x', config: { annotations: { a: 'x'.repeat(2 * 1024 * 1024) } } }),
    status: 413,
    code: 'E_INVALID_ARGUMENT',
    field: '(body)',
  },
  {
    title: 'a name of the wrong type',
    method: 'POST',
    path: '/boxes',
    body: { name: 5, config: sleeper },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'name',
  },
  {
    title: 'a name that is not a DNS label',
    method: 'POST',
    path: '/boxes',
    body: { name: 'Bad_Name', config: sleeper },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'name',
  },
  {
    title: 'a config field of the wrong type',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'busybox', process: { args: 'sh' } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.process.args',
  },
  {
    title: 'a plugin section of the wrong type',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'busybox', limits: { memory: -1 } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.limits.memory',
  },
  {
    title: 'an isolation section of the wrong shape',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'busybox', isolation: { mounts: [{ source: 'relative', destination: '/mnt' }] } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.isolation.mounts[0].source',
  },
  {
    title: 'a disk limit below the smallest image',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'busybox', limits: { disk: '1M' } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.limits.disk',
  },
  {
    title: 'an unknown field in the body',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: sleeper, colour: 'red' },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'colour',
  },
  {
    title: 'an unknown config section',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { ...sleeper, colour: 'red' } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.colour',
  },
  {
    title: 'an unknown field inside a config section',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'busybox', process: { shell: 'sh' } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.process.shell',
  },
  {
    title: 'a template that does not exist',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: { template: 'no-such-template' } },
    status: 404,
    code: 'E_NOT_FOUND',
    field: 'config.template',
  },
  {
    title: 'neither template nor rootfs',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', config: {} },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.template',
  },
  {
    title: 'an owner that does not exist',
    method: 'POST',
    path: '/boxes',
    body: { name: 'x', owner: 'nobody', config: sleeper },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'owner',
  },
  {
    title: 'a name already in use',
    method: 'POST',
    path: '/boxes',
    body: { name: 'running', config: sleeper },
    status: 409,
    code: 'E_ALREADY_EXISTS',
    field: 'name',
  },
  { title: 'an unknown query parameter', method: 'GET', path: '/boxes?colour=red', status: 400, code: 'E_INVALID_ARGUMENT', field: 'colour' },
  { title: 'a query parameter of the wrong type', method: 'GET', path: '/boxes?state=flying', status: 400, code: 'E_INVALID_ARGUMENT', field: 'state' },
  {
    title: 'a live change of the wrong type',
    method: 'PATCH',
    path: '/boxes/running',
    body: { config: { limits: { memory: 'lots' } } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.limits.memory',
  },
  {
    title: 'a live change to an unknown section',
    method: 'PATCH',
    path: '/boxes/running',
    body: { config: { colour: 'red' } },
    status: 400,
    code: 'E_INVALID_CONFIG',
    field: 'config.colour',
  },
  {
    title: 'a stop timeout of the wrong type',
    method: 'POST',
    path: '/boxes/running/stop',
    body: { timeout: 'soon' },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'timeout',
  },
  {
    title: 'an unknown signal',
    method: 'POST',
    path: '/boxes/running/kill',
    body: { signal: 'SIGNOPE' },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'signal',
  },
  {
    title: 'exec without a command',
    method: 'POST',
    path: '/boxes/running/exec',
    body: { command: [] },
    status: 400,
    code: 'E_INVALID_ARGUMENT',
    field: 'command',
  },
  { title: 'starting a running box', method: 'POST', path: '/boxes/running/start', status: 409, code: 'E_INVALID_STATE', field: 'state' },
  { title: 'destroying a running box without force', method: 'DELETE', path: '/boxes/running', status: 409, code: 'E_INVALID_STATE', field: 'state' },
  { title: 'signalling a box that never started', method: 'POST', path: '/boxes/idle/kill', status: 409, code: 'E_INVALID_STATE', field: 'state' },
  {
    title: 'exec in a box that does not run',
    method: 'POST',
    path: '/boxes/idle/exec',
    body: { command: ['true'] },
    status: 409,
    code: 'E_INVALID_STATE',
    field: 'state',
  },
  { title: 'a box that does not exist', method: 'POST', path: '/boxes/ghost/start', status: 404, code: 'E_NOT_FOUND', field: 'id' },
  { title: 'a missing token', method: 'DELETE', path: '/boxes/running?force=true', token: 'none', status: 401, code: 'E_UNAUTHORIZED', field: 'authorization' },
  {
    title: 'a token that is not one',
    method: 'DELETE',
    path: '/boxes/running?force=true',
    token: 'garbage',
    status: 401,
    code: 'E_UNAUTHORIZED',
    field: 'authorization',
  },
  {
    title: 'an expired token',
    method: 'DELETE',
    path: '/boxes/running?force=true',
    token: 'expired',
    status: 401,
    code: 'E_UNAUTHORIZED',
    field: 'authorization',
  },
  {
    title: "another tenant's token",
    method: 'DELETE',
    path: '/boxes/running?force=true',
    token: 'other-tenant',
    status: 404,
    code: 'E_NOT_FOUND',
    field: 'id',
  },
  {
    title: "another tenant's token, changing a box",
    method: 'PATCH',
    path: '/boxes/running',
    body: { config: { annotations: { a: 'b' } } },
    token: 'other-tenant',
    status: 404,
    code: 'E_NOT_FOUND',
    field: 'id',
  },
  { title: 'an operation id that is not one', method: 'GET', path: '/operations/123', status: 400, code: 'E_INVALID_ARGUMENT', field: 'id' },
  { title: 'a route that does not exist', method: 'POST', path: '/nowhere', status: 404, code: 'E_NOT_FOUND', field: 'path' },
];

describe('bad input to nsboxd', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  const tokens: Record<string, string | undefined> = {};

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup);
    const admin = nsboxd.client;
    await (await admin.boxes.create({ name: 'running', config: sleeper, start: true })).wait();
    await (await admin.boxes.create({ name: 'idle', config: sleeper })).wait();
    await admin.tenants.create({ name: 'other' });
    tokens.admin = nsboxd.daemon.adminToken;
    tokens.none = undefined;
    tokens.garbage = 'nsbx_garbage';
    tokens['other-tenant'] = (await admin.tokens.create({ name: 'other', tenant: 'other', role: 'admin' })).token;
    const expiring = await admin.tokens.create({ name: 'expiring', role: 'admin', expiresIn: 1 });
    tokens.expired = expiring.token;
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });

  it('answers every kind with its code, field and status, and changes nothing', async () => {
    const db = nsboxd.daemon.context.host.store.db;
    const failures: string[] = [];
    for (const item of cases) {
      const before = storeSnapshot(db);
      const body = item.rawBody ?? (item.body === undefined ? undefined : JSON.stringify(item.body));
      const token = tokens[item.token ?? 'admin'];
      const response: RawResponse = await raw(nsboxd.socketPath, item.method, item.path, {
        ...(token ? { token } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(item.contentType ? { contentType: item.contentType } : {}),
      });
      const error = (response.json as { error?: { code: string; field?: string; message: string } } | undefined)?.error;
      const got = `${response.status} ${error?.code} ${error?.field}`;
      const wanted = `${item.status} ${item.code} ${item.field}`;
      if (got !== wanted) failures.push(`${item.title}: got ${got} (${error?.message ?? response.text}), wanted ${wanted}`);
      if (!String(response.headers['content-type']).startsWith('application/json')) failures.push(`${item.title}: not JSON`);
      if (storeSnapshot(db) !== before) failures.push(`${item.title}: the store changed`);
    }
    assert.deepEqual(failures, []);
    // And the boxes are as they were.
    assert.equal((await nsboxd.client.boxes.get('running')).state, 'running');
    assert.equal((await nsboxd.client.boxes.get('idle')).state, 'created');
  });

  it('fails the create of a box whose bind source is not on the host, naming the field, and makes nothing', async () => {
    // The isolation plugin checks the host in its validate hook, which runs in the operation.
    const creating = await nsboxd.client.boxes.create({
      name: 'unbound',
      config: { ...sleeper, isolation: { mounts: [{ source: '/nonexistent/nsbox-bind-source', destination: '/mnt' }] } },
    });
    await assert.rejects(creating.wait(), (error) => {
      assert.ok(isNsboxApiError(error));
      assert.equal(error.code, 'E_INVALID_CONFIG');
      assert.equal(error.field, 'isolation.mounts[0].source');
      return true;
    });
    assert.deepEqual((await nsboxd.client.boxes.list()).map((box) => box.name).sort(), ['idle', 'running']);
    assert.deepEqual(readdirSync(join(nsboxd.stateDir, 'boxes')).length, 2, 'no box directory was made');
  });

  it('says which token failed and why, without a token in the audit log', async () => {
    await raw(nsboxd.socketPath, 'DELETE', '/boxes/running?force=true');
    const response = await raw(nsboxd.socketPath, 'GET', '/boxes', { token: tokens.expired as string });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="nsboxd"');
    assert.deepEqual((response.json as { error: { details: unknown } }).error.details, { reason: 'expired' });
    const audit = await nsboxd.client.audit();
    assert.ok(audit.some((entry) => entry.status === 401 && entry.tokenId === null && entry.method === 'DELETE'));
    assert.ok(!JSON.stringify(audit).includes('nsbx_'), 'no secret is ever logged');
  });
});
