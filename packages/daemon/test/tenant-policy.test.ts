/**
 * The tenant policy on a real nsboxd with the real isolation and limits plugins: every attack
 * a tenant's operator token tried on the old daemon (issue 10, hole 1) is refused with 403
 * E_FORBIDDEN naming the field, and leaves the store, the box list and the tenant's quota as
 * they were; the same through PATCH + restart and through a plugin's route. A granted field is
 * accepted, a revoked grant stops the box's next start, the host admin keeps full power.
 * Also: templates per tenant without host paths (hole 4), box names per tenant (hole 9), and
 * no exec environment values in the audit log (hole 10).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isNsboxApiError, type NsboxClient } from '@nsbox/client';
import { type AnyPlugin, type BoxManager, CoreTokens, definePlugin, z } from '@nsbox/core';
import { buildBusyboxRootfs } from '@nsbox/runtime';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon, type TestDaemon } from './daemon-fixture.js';
import { raw, storeSnapshot } from './raw-http.js';

const PROBE = 'policy-probe';

/** A third-party plugin whose routes change boxes through the BoxManager service, as a panel vendor's would. */
function probePlugin(): AnyPlugin {
  const manager = (services: { get<T>(id: symbol): T }) => services.get<BoxManager>(CoreTokens.BoxManager);
  return definePlugin({
    name: PROBE,
    version: '1.0.0',
    core: '^1.0.0',
    // A section of its own, and no tenantSafe: all of it is the host admin's.
    config: z.strictObject({ level: z.number().int().optional() }),
    routes: [
      {
        method: 'POST',
        path: '/boxes',
        summary: 'Creates a box',
        body: z.strictObject({ name: z.string(), config: z.record(z.string(), z.unknown()) }),
        async handler({ body, tenant, services }) {
          const input = body as { name: string; config: Record<string, unknown> };
          const box = await manager(services).create({ name: input.name, owner: tenant, config: input.config });
          return { id: box.id };
        },
      },
      {
        method: 'POST',
        path: '/boxes/:box/config',
        summary: "Changes a box's config",
        params: z.strictObject({ box: z.string() }),
        body: z.strictObject({ changes: z.record(z.string(), z.unknown()) }),
        async handler({ params, body, box, services }) {
          const found = box((params as { box: string }).box);
          await manager(services).update(found.id, (body as { changes: Record<string, unknown> }).changes);
          return { ok: true };
        },
      },
      {
        method: 'POST',
        path: '/boxes/:box/restart',
        summary: 'Restarts a box',
        params: z.strictObject({ box: z.string() }),
        async handler({ params, box, services }) {
          const found = box((params as { box: string }).box);
          return { state: (await manager(services).restart(found.id, { timeoutMs: 0 })).state };
        },
      },
    ],
  });
}

interface Refusal {
  status: number;
  code: string;
  field: string;
  fields: string[];
}

function refusalOf(error: unknown): Refusal {
  assert.ok(isNsboxApiError(error), `expected an API error, got ${error}`);
  const details = error.details as { fields?: string[]; issues?: { path: string }[] };
  return { status: error.status, code: error.code, field: error.field ?? '', fields: details.fields ?? (details.issues ?? []).map((issue) => issue.path) };
}

/** Asserts a 403 E_FORBIDDEN that names `field` first (and `also` among the others). */
function forbidden(field: string, also: string[] = []) {
  return (error: unknown) => {
    const refusal = refusalOf(error);
    assert.equal(refusal.status, 403, `${(error as Error).message}`);
    assert.equal(refusal.code, 'E_FORBIDDEN');
    assert.equal(refusal.field, field);
    for (const other of also) assert.ok(refusal.fields.includes(other), `${other} not among ${refusal.fields.join(', ')}`);
    return true;
  };
}

const sleeper = { template: 'busybox', process: { args: ['sleep', '1000'] } };

describe('tenant policy: deny by default', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let admin: NsboxClient;
  let alpha: NsboxClient;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup, { plugins: [probePlugin()] });
    admin = nsboxd.client;
    alpha = await tenantClient('alpha');
  });

  async function tenantClient(name: string, role: 'operator' | 'admin' = 'operator'): Promise<NsboxClient> {
    if (!(await admin.tenants.list()).some((tenant) => tenant.name === name)) await admin.tenants.create({ name, quotas: { boxes: 5 } });
    const { token } = await admin.tokens.create({ name: `${name}-${role}`, tenant: name, role });
    return nsboxd.clientFor(token);
  }

  /** Runs `attack` and checks it changed nothing: store (boxes, history, journal, operations), box list, quota usage. */
  async function leavesNoTrace(attack: () => Promise<unknown>, check: (error: unknown) => boolean): Promise<void> {
    const db = nsboxd.daemon.context.host.store.db;
    const before = { store: storeSnapshot(db), boxes: (await admin.boxes.list()).map((box) => box.name), usage: (await admin.tenants.usage('alpha')).usage };
    await assert.rejects(attack(), check);
    assert.equal(storeSnapshot(db), before.store, 'the store changed');
    assert.deepEqual(
      (await admin.boxes.list()).map((box) => box.name),
      before.boxes,
    );
    assert.deepEqual((await admin.tenants.usage('alpha')).usage, before.usage, 'a quota reservation was left behind');
  }

  const create = (config: Record<string, unknown>) => () => alpha.boxes.create({ name: 'attack', config: { ...sleeper, ...config }, start: true });

  describe('POST /boxes: each attack of hole 1 is refused, naming the field', () => {
    it('privileged plus a bind of host /etc', async () => {
      await leavesNoTrace(
        create({ isolation: { privileged: true, mounts: [{ source: '/etc', destination: '/host-etc' }] } }),
        forbidden('config.isolation.privileged', ['config.isolation.mounts[0].source']),
      );
    });

    it('an idmapped bind of host /etc in a default box', async () => {
      await leavesNoTrace(
        create({ isolation: { mounts: [{ source: '/etc', destination: '/host-etc', idmap: true }] } }),
        forbidden('config.isolation.mounts[0].source', ['config.isolation.mounts[0].idmap']),
      );
    });

    it('plugins.disable of isolation', async () => {
      await leavesNoTrace(create({ plugins: { disable: ['isolation'] } }), forbidden('config.plugins.disable[0]'));
    });

    it("the host's network namespace", async () => {
      await leavesNoTrace(create({ isolation: { namespaces: { network: 'host' } } }), forbidden('config.isolation.namespaces.network'));
    });

    it('a host device', async () => {
      await leavesNoTrace(create({ isolation: { devices: [{ path: '/dev/sda' }] } }), forbidden('config.isolation.devices[0].path'));
      await leavesNoTrace(create({ isolation: { devices: [{ type: 'b', major: 8, minor: 0 }] } }), forbidden('config.isolation.devices[0].type'));
    });

    it('added capabilities', async () => {
      await leavesNoTrace(create({ isolation: { capabilities: { add: ['SYS_ADMIN'] } } }), forbidden('config.isolation.capabilities.add[0]'));
    });

    it('seccomp unconfined, or a syscall allowed', async () => {
      await leavesNoTrace(create({ isolation: { seccomp: { profile: 'unconfined' } } }), forbidden('config.isolation.seccomp.profile'));
      await leavesNoTrace(create({ isolation: { seccomp: { allow: ['mount'] } } }), forbidden('config.isolation.seccomp.allow[0]'));
    });

    it("uidMappings onto another box's range", async () => {
      const victim = await (await admin.boxes.create({ name: 'victim', config: sleeper, start: true })).wait();
      const range = ((await admin.boxes.details(victim.name)) as { isolation?: { uidRange?: string } }).isolation?.uidRange ?? '';
      const hostID = Number(range.split('-')[0]);
      assert.ok(hostID > 0, `the victim's uid range: '${range}'`);
      const mapping = [{ containerID: 0, hostID, size: 65536 }];
      await leavesNoTrace(create({ isolation: { uidMappings: mapping, gidMappings: mapping } }), forbidden('config.isolation.uidMappings[0].containerID'));
    });

    it('rlimits without an admin cap, and above it', async () => {
      await leavesNoTrace(create({ limits: { rlimits: { rtprio: 99 } } }), forbidden('config.limits.rlimits.rtprio'));
      await admin.tenants.update('alpha', { policy: { grants: ['limits.rlimits.nofile <= 4096'] } });
      await leavesNoTrace(create({ limits: { rlimits: { nofile: 8192 } } }), forbidden('config.limits.rlimits.nofile'));
      await leavesNoTrace(create({ limits: { rlimits: { nofile: 'unlimited' } } }), forbidden('config.limits.rlimits.nofile'));
    });

    it('org.nsbox annotations, annotations in general, a rootfs and a template path', async () => {
      await leavesNoTrace(create({ annotations: { 'org.nsbox.rootfs.idmap': 'false' } }), forbidden('config.annotations["org.nsbox.rootfs.idmap"]'));
      await leavesNoTrace(create({ annotations: { note: 'x' } }), forbidden('config.annotations.note'));
      await leavesNoTrace(() => alpha.boxes.create({ name: 'attack', config: { rootfs: '/' } }), forbidden('config.rootfs'));
      await leavesNoTrace(() => alpha.boxes.create({ name: 'attack', config: { template: '/etc' } }), forbidden('config.template'));
    });

    it('every field of a plugin that declares nothing tenant-safe', async () => {
      await leavesNoTrace(create({ [PROBE]: { level: 1 } }), forbidden(`config.${PROBE}.level`));
      await (await admin.boxes.create({ name: 'leveled', owner: 'alpha', config: { ...sleeper, [PROBE]: { level: 1 } } })).wait();
    });

    it('a tenant admin token is a tenant too', async () => {
      const tenantAdmin = await tenantClient('alpha', 'admin');
      await leavesNoTrace(
        () => tenantAdmin.boxes.create({ name: 'attack', config: { ...sleeper, isolation: { privileged: true } } }),
        forbidden('config.isolation.privileged'),
      );
    });
  });

  it('accepts the tenant-safe fields, and a granted field within its cap', async () => {
    const safe = {
      ...sleeper,
      hostname: 'web',
      process: { args: ['sleep', '1000'], env: { A: 'b' } },
      isolation: { readonlyRoot: true, procfs: { hidepid: 'invisible' }, namespaces: { network: 'private' }, capabilities: { drop: ['NET_RAW'] } },
      limits: { memory: '64M', pids: 64, cpus: 0.5 },
    };
    const box = await (await alpha.boxes.create({ name: 'safe', config: safe, start: true })).wait();
    assert.equal(box.state, 'running');
    await assert.rejects(alpha.boxes.update('safe', { limits: { memory: '64M', rlimits: { nofile: 2048 } } }), forbidden('config.limits.rlimits.nofile'));
    await admin.tenants.update('alpha', { policy: { grants: ['limits.rlimits.nofile <= 4096'] } });
    assert.deepEqual((await admin.tenants.get('alpha')).policy, { grants: ['limits.rlimits.nofile <= 4096'], roles: {} });
    await alpha.boxes.update('safe', { limits: { memory: '64M', rlimits: { nofile: 2048 } } });
    const limits = (await alpha.boxes.exec('safe', { command: ['sh', '-c', 'ulimit -n'] })).stdout.trim();
    assert.equal(limits, '2048');
  });

  it('grants per role: what an admin token of the tenant may set, an operator token may not', async () => {
    await admin.tenants.update('alpha', { policy: { grants: [], roles: { admin: ['annotations'] } } });
    const tenantAdmin = await tenantClient('alpha', 'admin');
    await assert.rejects(alpha.boxes.create({ name: 'noted', config: { ...sleeper, annotations: { note: 'x' } } }), forbidden('config.annotations.note'));
    await (await tenantAdmin.boxes.create({ name: 'noted', config: { ...sleeper, annotations: { note: 'x' } } })).wait();
    // A broad grant does not reach the plugins' own annotations.
    await assert.rejects(
      tenantAdmin.boxes.create({ name: 'noted2', config: { ...sleeper, annotations: { 'org.nsbox.rootfs.idmap': 'false' } } }),
      forbidden('config.annotations["org.nsbox.rootfs.idmap"]'),
    );
  });

  it('refuses a grant that is not a field path or names no section', async () => {
    await assert.rejects(
      admin.tenants.update('alpha', { policy: { grants: ['isolation..mounts'] } }),
      (error) => refusalOf(error).field === 'policy.grants[0]',
    );
    await assert.rejects(admin.tenants.update('alpha', { policy: { grants: ['nosuch.field'] } }), (error) => refusalOf(error).field === 'policy.grants[0]');
    await assert.rejects(alpha.tenants.update('alpha', { policy: { grants: ['isolation'] } }), (error) => refusalOf(error).status === 403);
    assert.deepEqual((await admin.tenants.get('alpha')).policy, { grants: [], roles: {} });
  });

  it('PATCH then restart: the change is refused, nothing is written, the box restarts as it was', async () => {
    await (await alpha.boxes.create({ name: 'harmless', config: sleeper, start: true })).wait();
    const before = (await admin.boxes.get('alpha--harmless')).config;
    for (const [changes, field] of [
      [{ isolation: { privileged: true } }, 'config.isolation.privileged'],
      [{ isolation: { mounts: [{ source: '/etc', destination: '/host-etc', idmap: true }] } }, 'config.isolation.mounts[0].source'],
      [{ plugins: { disable: ['isolation'] } }, 'config.plugins.disable[0]'],
      [{ isolation: { namespaces: { network: 'host' } } }, 'config.isolation.namespaces.network'],
    ] as const) {
      await leavesNoTrace(() => alpha.boxes.update('harmless', changes), forbidden(field));
    }
    const restarted = await alpha.boxes.restart('harmless', { timeout: 0 });
    assert.equal(restarted.state, 'running');
    assert.deepEqual((await admin.boxes.get('alpha--harmless')).config, before, 'the stored config is the one before the refused changes');
  });

  it('a box made under a grant does not start again once the grant is revoked', async () => {
    await admin.tenants.update('alpha', { policy: { grants: ['annotations'] } });
    await (await alpha.boxes.create({ name: 'granted', config: { ...sleeper, annotations: { note: 'x' } }, start: true })).wait();
    await admin.tenants.update('alpha', { policy: { grants: [] } });
    // Refused before the stop: the running box is left as it was.
    await assert.rejects(alpha.boxes.restart('granted', { timeout: 0 }), forbidden('config.annotations.note'));
    assert.equal((await alpha.boxes.get('granted')).state, 'running');
    await alpha.boxes.stop('granted', { timeout: 0 });
    await assert.rejects(alpha.boxes.start('granted'), forbidden('config.annotations.note'));
    assert.equal((await alpha.boxes.get('granted')).state, 'stopped');
    // A change that drops the field makes it startable again.
    await alpha.boxes.update('granted', { annotations: null });
    assert.equal((await alpha.boxes.start('granted')).state, 'running');
  });

  it("a plugin's routes meet the same policy when they change boxes", async () => {
    await (await alpha.boxes.create({ name: 'harmless', config: sleeper, start: true })).wait();
    const probe = alpha.plugins.routes(PROBE);
    await leavesNoTrace(() => probe.post('/boxes/harmless/config', { changes: { isolation: { privileged: true } } }), forbidden('config.isolation.privileged'));
    await leavesNoTrace(
      () => probe.post('/boxes', { name: 'attack', config: { ...sleeper, isolation: { privileged: true } } }),
      forbidden('config.isolation.privileged'),
    );
    assert.deepEqual(await probe.post('/boxes/harmless/config', { changes: { limits: { pids: 32 } } }), { ok: true });
    await admin.tenants.update('alpha', { policy: { grants: ['annotations'] } });
    await probe.post('/boxes/harmless/config', { changes: { annotations: { note: 'x' } } });
    await admin.tenants.update('alpha', { policy: { grants: [] } });
    await leavesNoTrace(() => probe.post('/boxes/harmless/restart'), forbidden('config.annotations.note'));
  });

  it("a plugin's route that creates boxes meets the tenant's quota as POST /boxes does", async () => {
    await admin.tenants.update('alpha', { quotas: { boxes: 1 } });
    const probe = alpha.plugins.routes(PROBE);
    // The control: under the quota, the same route creates the tenant's box.
    const made = (await probe.post('/boxes', { name: 'first', config: sleeper })) as { id: string };
    assert.equal((await alpha.boxes.get('first')).id, made.id);
    await leavesNoTrace(
      () => probe.post('/boxes', { name: 'second', config: sleeper }),
      (error) => {
        const refusal = refusalOf(error);
        assert.equal(refusal.code, 'E_QUOTA_EXCEEDED', (error as Error).message);
        assert.equal(refusal.field, 'name');
        return true;
      },
    );
  });

  it('the host admin keeps full power', async () => {
    const config = { ...sleeper, isolation: { capabilities: { add: ['NET_ADMIN'] }, seccomp: { allow: ['mount'] } }, annotations: { 'org.nsbox.test': 'x' } };
    const box = await (await admin.boxes.create({ name: 'admins', owner: 'alpha', config, start: true })).wait();
    assert.equal(box.state, 'running');
    assert.deepEqual((box.config.isolation as { capabilities: { add: string[] } }).capabilities.add, ['NET_ADMIN']);
    await admin.boxes.update(box.name, { isolation: { namespaces: { network: 'private' }, readonlyRoot: true } });
    assert.equal((await admin.boxes.restart(box.name, { timeout: 0 })).state, 'running');
    // Its tenant may see it, but not restart it with settings it may not make.
    await assert.rejects(alpha.boxes.restart('admins', { timeout: 0 }), forbidden('config.annotations["org.nsbox.test"]'));
  });
});

describe('templates per tenant, box names per tenant, the audit log', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let admin: NsboxClient;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup);
    admin = nsboxd.client;
  });

  async function tenant(name: string): Promise<{ client: NsboxClient; token: string }> {
    await admin.tenants.create({ name });
    const { token } = await admin.tokens.create({ name, tenant: name, role: 'operator' });
    return { client: nsboxd.clientFor(token), token };
  }

  it("a tenant sees and boots its own and the shared templates, never another tenant's, and no host path", async () => {
    const alpha = await tenant('alpha');
    const beta = await tenant('beta');
    const work = makeTempDir(cleanup, 'template');
    buildBusyboxRootfs(join(work, 'rootfs'));
    const tarball = join(work, 'mini.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', join(work, 'rootfs'), '.']);
    await (await admin.templates.import({ name: 'alpha-img', source: tarball, owner: 'alpha' })).wait();
    await (await admin.templates.import({ name: 'shared-img', source: tarball })).wait();
    const imagesDir = nsboxd.daemon.context.templates.imagesDir;
    assert.ok((await admin.templates.get('alpha-img')).path?.startsWith(imagesDir), 'the admin sees the path');

    const names = async (client: NsboxClient) => (await client.templates.list()).filter((t) => t.kind === 'imported').map((t) => t.name);
    assert.deepEqual(await names(alpha.client), ['alpha-img', 'shared-img']);
    assert.deepEqual(await names(beta.client), ['shared-img']);
    await assert.rejects(beta.client.templates.get('alpha-img'), (error) => isNsboxApiError(error) && error.status === 404);
    await assert.rejects(beta.client.boxes.create({ name: 'stolen', config: { ...sleeper, template: 'alpha-img' } }), (error) => {
      const refusal = refusalOf(error);
      return refusal.status === 404 && refusal.code === 'E_NOT_FOUND' && refusal.field === 'config.template';
    });
    assert.equal((await beta.client.boxes.list()).length, 0);

    const own = await (await alpha.client.boxes.create({ name: 'web', config: { ...sleeper, template: 'alpha-img' }, start: true })).wait();
    assert.equal(own.state, 'running');
    await (await beta.client.boxes.create({ name: 'web', config: { ...sleeper, template: 'shared-img' } })).wait();

    // No tenant response carries a host path of nsboxd's (the template's, the box's rootfs, its spec).
    for (const { token } of [alpha, beta]) {
      for (const path of ['/templates', '/templates/shared-img', '/boxes', '/boxes/web', '/boxes/web/details', '/operations']) {
        const response = await raw(nsboxd.socketPath, 'GET', path, { token });
        assert.equal(response.status, 200, `${path}: ${response.text}`);
        assert.ok(!response.text.includes(nsboxd.stateDir), `${path} shows ${nsboxd.stateDir}: ${response.text.slice(0, 400)}`);
      }
    }
    assert.ok(
      (await raw(nsboxd.socketPath, 'GET', '/boxes/alpha--web', { token: nsboxd.daemon.adminToken })).text.includes(imagesDir),
      'the admin sees where it came from',
    );
    assert.equal((await alpha.client.boxes.get('web')).config.template, 'alpha-img');
    // A restart re-checks the config: the template by name passes.
    assert.equal((await alpha.client.boxes.restart('web', { timeout: 0 })).state, 'running');
    // The admin shares it: beta sees it now (without its path).
    await admin.templates.update('alpha-img', { shared: true });
    assert.deepEqual(await names(beta.client), ['alpha-img', 'shared-img']);
    assert.equal((await beta.client.templates.get('alpha-img')).path, undefined);
    // Removed: the box keeps its copy and still restarts, and its view names no path.
    await admin.templates.remove('alpha-img');
    assert.equal((await alpha.client.boxes.restart('web', { timeout: 0 })).state, 'running');
    const after = await raw(nsboxd.socketPath, 'GET', '/boxes/web', { token: alpha.token });
    assert.ok(!after.text.includes(nsboxd.stateDir), after.text);
  });

  it("box names are per tenant: a tenant does not learn another tenant's names", async () => {
    const alpha = await tenant('alpha');
    const beta = await tenant('beta');
    await (await alpha.client.boxes.create({ name: 'web', config: sleeper, start: true })).wait();
    // The same name in another tenant is a box of its own, not a 409.
    const theirs = await (await beta.client.boxes.create({ name: 'web', config: sleeper, start: true })).wait();
    assert.equal(theirs.name, 'web');
    assert.equal(theirs.owner, 'beta');
    // Inside, the box is called what its tenant called it.
    assert.equal((await beta.client.boxes.exec('web', { command: ['hostname'] })).stdout, 'web\n');
    // A 409 names only the tenant's own box.
    await assert.rejects(beta.client.boxes.create({ name: 'web', config: sleeper }), (error) => refusalOf(error).status === 409);
    assert.deepEqual(
      (await alpha.client.boxes.list()).map((box) => box.name),
      ['web'],
    );
    assert.notEqual((await alpha.client.boxes.get('web')).id, theirs.id);
    await alpha.client.boxes.destroy('web', { force: true });
    assert.equal((await beta.client.boxes.get('web')).state, 'running');
    // The host admin sees both by their host-wide names.
    assert.deepEqual(
      (await admin.boxes.list()).map((box) => box.name),
      ['beta--web'],
    );
    await assert.rejects(admin.tenants.create({ name: 'a--b' }), (error) => refusalOf(error).field === 'name');
  });

  it("keeps an exec's environment keys in the audit log, not their values", async () => {
    const alpha = await tenant('alpha');
    await (await alpha.client.boxes.create({ name: 'web', config: sleeper, start: true })).wait();
    const secret = 'hunter2-s3cr3t';
    const session = await alpha.client.boxes.console('web', { command: ['sh', '-c', 'echo "$API_KEY"'], tty: false, env: { API_KEY: secret } });
    assert.equal(await session.exited, 0);
    const entries = await admin.audit({ tenant: 'alpha' });
    const exec = entries.find((entry) => entry.route === 'GET /boxes/:id/exec/socket');
    assert.ok(exec, `no exec in ${JSON.stringify(entries)}`);
    assert.ok(exec.url.includes('API_KEY'), exec.url);
    const db = nsboxd.daemon.context.host.store.db;
    const stored = JSON.stringify(db.prepare('SELECT * FROM daemon_audit').all());
    assert.ok(!stored.includes(secret), `the audit log holds the secret: ${stored}`);
  });

  it('redacts the exec environments an older nsboxd wrote into the audit log when it starts', async () => {
    const db = nsboxd.daemon.context.host.store.db;
    const old = '/boxes/web/exec/socket?command=sh&env=DB_PASSWORD%3Dold-s3cr3t';
    db.prepare("INSERT INTO daemon_audit (time, method, url, status, duration_ms) VALUES (1, 'GET', ?, 101, 1)").run(old);
    await nsboxd.restart();
    const urls = (nsboxd.daemon.context.host.store.db.prepare('SELECT url FROM daemon_audit').all() as { url: string }[]).map((row) => row.url);
    assert.ok(
      urls.some((url) => url.includes('DB_PASSWORD')),
      urls.join('\n'),
    );
    assert.ok(!urls.some((url) => url.includes('old-s3cr3t')), urls.join('\n'));
  });
});
