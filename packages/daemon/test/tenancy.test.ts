/**
 * Tenants, tokens and quotas on a real nsboxd: a tenant's token sees and touches only its
 * tenant's boxes (404 for the others, never 403), roles limit what a token may do, quotas
 * refuse the create or update that would exceed them, and every mutating call is audited.
 */

import assert from 'node:assert/strict';
import { isNsboxApiError, type NsboxClient } from '@nsbox/client';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon, type TestDaemon, testLimitsPlugin } from './daemon-fixture.js';

const MiB = 1024 * 1024;

function refused(status: number, code: string, field?: string) {
  return (error: unknown) => {
    assert.ok(isNsboxApiError(error), `expected an API error, got ${error}`);
    assert.equal(error.status, status, `${error.code}: ${error.message}`);
    assert.equal(error.code, code);
    if (field !== undefined) assert.equal(error.field, field);
    return true;
  };
}

describe('tenants, tokens and quotas', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let admin: NsboxClient;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup, { plugins: [testLimitsPlugin()] });
    admin = nsboxd.client;
  });

  async function tenantClient(name: string, role: 'read-only' | 'operator' | 'admin' = 'operator', quotas = {}): Promise<NsboxClient> {
    if (!(await admin.tenants.list()).some((tenant) => tenant.name === name)) await admin.tenants.create({ name, quotas });
    const { token } = await admin.tokens.create({ name: `${name}-${role}`, tenant: name, role });
    return nsboxd.clientFor(token);
  }

  it("keeps each tenant to its own boxes: the others' are not found", async () => {
    const alpha = await tenantClient('alpha');
    const beta = await tenantClient('beta');
    const box = await (
      await beta.boxes.create({ name: 'beta-web', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })
    ).wait();
    assert.equal(box.owner, 'beta');
    await (await alpha.boxes.create({ name: 'alpha-web', config: { template: 'busybox' } })).wait();

    assert.deepEqual(
      (await alpha.boxes.list()).map((listed) => listed.name),
      ['alpha-web'],
    );
    assert.deepEqual(
      (await alpha.boxes.list({ owner: 'beta' })).map((listed) => listed.name),
      ['alpha-web'],
      'a tenant cannot widen its own filter',
    );
    const notFound = refused(404, 'E_NOT_FOUND');
    for (const ref of ['beta-web', box.id]) {
      await assert.rejects(alpha.boxes.get(ref), notFound);
      await assert.rejects(alpha.boxes.exec(ref, { command: ['true'] }), notFound);
      await assert.rejects(alpha.boxes.console(ref), notFound);
      await assert.rejects(alpha.boxes.update(ref, { annotations: { x: 'y' } }), notFound);
      await assert.rejects(alpha.boxes.stop(ref), notFound);
      await assert.rejects(alpha.boxes.kill(ref, 'KILL'), notFound);
      await assert.rejects(alpha.boxes.destroy(ref, { force: true }), notFound);
      await assert.rejects(alpha.boxes.history(ref), notFound);
      await assert.rejects(alpha.boxes.logs(ref), notFound);
    }
    // The message is the one a missing box gets: nothing tells them apart.
    const message = (call: Promise<unknown>) =>
      call.then(
        () => 'found',
        (error: Error) => error.message,
      );
    const missing = await message(alpha.boxes.get('no-such-box'));
    const foreign = await message(alpha.boxes.get('beta-web'));
    assert.equal(foreign.replace('beta-web', 'X'), missing.replace('no-such-box', 'X'));
    await assert.rejects(alpha.events.list({ box: 'beta-web' }), notFound);
    const events = (await alpha.events.list({ after: 0 })).events;
    assert.ok(events.length > 0);
    assert.ok(
      events.every((event) => event.data.box === 'alpha-web'),
      'events of their own boxes only',
    );
    assert.deepEqual(
      (await alpha.operations.list()).map((operation) => operation.resources.boxes),
      [['alpha-web']],
    );
    // Beta's box did not notice. The host admin knows it by its host-wide name: tenant--name.
    assert.equal((await admin.boxes.get('beta--beta-web')).state, 'running');
    assert.equal((await beta.boxes.exec('beta-web', { command: ['hostname'] })).stdout, 'beta-web\n');
  });

  it('gives each role what it may do, and audits every mutating call with the token', async () => {
    const reader = await tenantClient('gamma', 'read-only');
    const tenantAdmin = await tenantClient('gamma', 'admin');
    await assert.rejects(reader.boxes.create({ name: 'gamma-1', config: { template: 'busybox' } }), refused(403, 'E_FORBIDDEN'));
    assert.deepEqual(await reader.boxes.list(), []);
    await assert.rejects(reader.tokens.list(), refused(403, 'E_FORBIDDEN'));
    // A tenant's admin issues tokens for its tenant only, and never host-wide ones.
    const issued = await tenantAdmin.tokens.create({ name: 'ci', role: 'operator' });
    assert.equal(issued.record.tenant, 'gamma');
    await assert.rejects(tenantAdmin.tokens.create({ name: 'x', role: 'operator', tenant: 'alpha' }), refused(403, 'E_FORBIDDEN', 'tenant'));
    await assert.rejects(tenantAdmin.tenants.create({ name: 'delta' }), refused(403, 'E_FORBIDDEN'));
    await assert.rejects(tenantAdmin.host(), refused(403, 'E_FORBIDDEN'));
    assert.deepEqual(
      (await tenantAdmin.tenants.list()).map((tenant) => tenant.name),
      ['gamma'],
    );

    // Revoked and expired tokens stop working at once.
    const operator = nsboxd.clientFor(issued.token);
    assert.equal((await operator.whoami()).tenant, 'gamma');
    await tenantAdmin.tokens.revoke(issued.record.id);
    await assert.rejects(
      operator.whoami(),
      (error) => refused(401, 'E_UNAUTHORIZED', 'authorization')(error) && (error as { details: { reason: string } }).details.reason === 'revoked',
    );
    const shortLived = await admin.tokens.create({ name: 'short', role: 'read-only', expiresIn: 1 });
    const expiring = nsboxd.clientFor(shortLived.token);
    await expiring.whoami();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await assert.rejects(
      expiring.whoami(),
      (error) => refused(401, 'E_UNAUTHORIZED')(error) && (error as { details: { reason: string } }).details.reason === 'expired',
    );
    await assert.rejects(nsboxd.clientFor('nsbx_not-a-token').whoami(), refused(401, 'E_UNAUTHORIZED'));

    const audit = await admin.audit();
    const refusedCreate = audit.find((entry) => entry.method === 'POST' && entry.url === '/boxes');
    assert.ok(refusedCreate);
    assert.equal(refusedCreate.tenant, 'gamma');
    assert.equal(refusedCreate.role, 'read-only');
    assert.equal(refusedCreate.status, 403);
    assert.equal(refusedCreate.code, 'E_FORBIDDEN');
    assert.ok(audit.some((entry) => entry.route === 'DELETE /tokens/:id' && entry.tokenName === 'gamma-admin' && entry.status === 200));
    assert.ok(
      audit.every((entry) => entry.method !== 'GET' || entry.route === 'GET /boxes/:id/exec/socket'),
      'reads are not audited',
    );
    assert.deepEqual(
      (await tenantAdmin.audit()).map((entry) => entry.tenant),
      (await tenantAdmin.audit()).map(() => 'gamma'),
      "a tenant admin sees its tenant's entries",
    );
    // Tokens are stored hashed: the database never holds the secret.
    const stored = nsboxd.daemon.context.host.store.db.prepare('SELECT hash FROM daemon_tokens').all() as { hash: string }[];
    assert.ok(stored.every((row) => /^[0-9a-f]{64}$/.test(row.hash) && row.hash !== issued.token));
  });

  it('refuses the create or update that would exceed a quota', async () => {
    const client = await tenantClient('quota', 'operator', { boxes: 2, memory: '192M' });
    await (await client.boxes.create({ name: 'q1', config: { template: 'busybox', limits: { memory: 128 * MiB } } })).wait();
    // Over the memory quota: refused at once, nothing made.
    await assert.rejects(
      client.boxes.create({ name: 'q2', config: { template: 'busybox', limits: { memory: 128 * MiB } } }),
      refused(403, 'E_QUOTA_EXCEEDED', 'config.limits.memory'),
    );
    // A box without a memory limit would escape the quota.
    await assert.rejects(client.boxes.create({ name: 'q2', config: { template: 'busybox' } }), refused(403, 'E_QUOTA_EXCEEDED', 'config.limits.memory'));
    await (await client.boxes.create({ name: 'q2', config: { template: 'busybox', limits: { memory: 64 * MiB } } })).wait();
    // Third box: over the count.
    await assert.rejects(client.boxes.create({ name: 'q3', config: { template: 'busybox', limits: { memory: 2 * MiB } } }), refused(403, 'E_QUOTA_EXCEEDED'));
    // Growing a box past the quota is refused too; shrinking is fine.
    await assert.rejects(client.boxes.update('q2', { limits: { memory: 96 * MiB } }), refused(403, 'E_QUOTA_EXCEEDED', 'config.limits.memory'));
    assert.deepEqual((await client.boxes.get('q2')).config.limits, { memory: 64 * MiB });
    await client.boxes.update('q1', { limits: { memory: 100 * MiB } });
    assert.deepEqual((await client.tenants.usage('quota')).usage, { boxes: 2, memory: 164 * MiB, disk: 0 });
    assert.deepEqual(
      (await client.boxes.list()).map((box) => box.name),
      ['q1', 'q2'],
    );

    // Concurrent creates cannot squeeze under the same quota together.
    await admin.tenants.update('quota', { quotas: { boxes: 3 } });
    const racing = await Promise.allSettled(
      ['r1', 'r2', 'r3'].map((name) => client.boxes.create({ name, config: { template: 'busybox' } }).then((op) => op.wait())),
    );
    assert.equal(racing.filter((result) => result.status === 'fulfilled').length, 1);
    assert.equal((await client.boxes.list()).length, 3);
    // A tenant with boxes cannot be removed.
    await assert.rejects(admin.tenants.remove('quota'), refused(409, 'E_INVALID_STATE', 'name'));
  });

  it('makes tenants pick named templates, never host paths', async () => {
    const client = await tenantClient('paths');
    await assert.rejects(client.boxes.create({ name: 'p1', config: { template: '/etc' } }), refused(403, 'E_FORBIDDEN', 'config.template'));
    await assert.rejects(client.boxes.create({ name: 'p1', config: { rootfs: '/' } }), refused(403, 'E_FORBIDDEN', 'config.rootfs'));
    await assert.rejects(client.boxes.create({ name: 'p1', owner: 'alpha', config: { template: 'busybox' } }), refused(403, 'E_FORBIDDEN', 'owner'));
    await assert.rejects(client.templates.import({ source: 'busybox' }), refused(403, 'E_FORBIDDEN'));
    assert.deepEqual(await client.boxes.list(), []);
  });
});
