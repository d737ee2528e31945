/**
 * The SDK against a real nsboxd on a real unix socket, with real boxes and the real isolation
 * and limits plugins: the full lifecycle, a live limit change that reaches the kernel, a pty
 * over the websocket, and events in order, resumed after the connection drops (nsboxd
 * restarted underneath).
 */

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import type { BoxEvent, NsboxClient } from '@nsbox/client';
import { isNsboxApiError } from '@nsbox/client';
import { CORE_API_VERSION } from '@nsbox/core';
import { isolationPlugin, RANGE_SIZE } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { readMemoryLimit, startTestDaemon, type TestDaemon } from './daemon-fixture.js';
import { ROUTE_PLUGIN, routePlugin } from './route-plugin.js';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function collect(stream: AsyncGenerator<BoxEvent>, into: BoxEvent[], controller: AbortController): Promise<void> {
  try {
    for await (const event of stream) into.push(event);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
}

describe('nsboxd through the SDK', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let client: NsboxClient;

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup, { plugins: [routePlugin()] });
    client = nsboxd.client;
  });

  it('serves on a 0660 socket, writes a 0600 admin token, and refuses calls without a token', async () => {
    assert.equal(statSync(nsboxd.socketPath).mode & 0o777, 0o660);
    assert.equal(statSync(nsboxd.daemon.adminTokenFile).mode & 0o777, 0o600);
    assert.deepEqual(await nsboxd.clientFor('').health(), { status: 'ok', version: '0.1.0' });
    const anonymous = nsboxd.clientFor('');
    await assert.rejects(anonymous.boxes.list(), (error) => isNsboxApiError(error) && error.status === 401 && error.code === 'E_UNAUTHORIZED');
    const document = await anonymous.openapi();
    assert.equal(document.openapi, '3.1.0');
  });

  it('runs a box through its whole lifecycle', async () => {
    const progress: string[] = [];
    const operation = await client.boxes.create({ name: 'life', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true });
    assert.equal(operation.current.status, 'running');
    const created = await operation.wait({ onProgress: (op) => op.progress && progress.push(op.progress.step) });
    assert.equal(created.state, 'running');
    assert.ok(progress.length > 0, 'progress was reported');
    assert.equal((await client.operations.get(operation.id)).status, 'success');

    const box = await client.boxes.get('life');
    assert.equal(box.state, 'running');
    // The isolation plugin gave it a user namespace over a host uid range of its own.
    const [inside, outside, size] = readFileSync(`/proc/${box.runtime.init?.pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
    assert.deepEqual({ inside, size }, { inside: 0, size: RANGE_SIZE });
    assert.ok((outside as number) > 0, `box root is host uid ${outside}, not host root`);
    assert.ok(box.runtime.spec, 'a single box carries its OCI spec');
    assert.deepEqual(
      (await client.boxes.list()).map((listed) => [listed.name, listed.state]),
      [['life', 'running']],
    );
    assert.deepEqual(await client.boxes.list({ state: 'stopped' }), []);

    const exec = await client.boxes.exec('life', { command: ['sh', '-c', 'hostname; cat; echo oops >&2; exit 4'], stdin: 'from stdin' });
    assert.deepEqual(exec, { exitCode: 4, stdout: 'life\nfrom stdin', stderr: 'oops\n' });

    assert.equal((await client.boxes.pause('life')).state, 'paused');
    assert.equal((await client.boxes.resume('life')).state, 'running');
    const pid = (await client.boxes.get('life')).runtime.init?.pid;
    const restarted = await client.boxes.restart('life', { timeout: 1 });
    assert.equal(restarted.state, 'running');
    assert.notEqual(restarted.runtime.init?.pid, pid);

    assert.equal((await client.boxes.stop('life', { timeout: 1 })).state, 'stopped');
    assert.equal((await client.boxes.start('life')).state, 'running');
    assert.deepEqual(await client.boxes.kill('life', 'SIGKILL'), { name: 'life', signal: 9 });
    await until('the killed box to be stopped', async () => ((await client.boxes.get('life')).state === 'stopped' ? true : undefined));

    const history = (await client.boxes.history('life')).map((event) => event.kind);
    assert.deepEqual(history.slice(0, 4), ['box.defined', 'state.creating', 'state.created', 'state.starting']);
    assert.ok(history.includes('box.signaled'));
    assert.deepEqual(await client.boxes.destroy('life'), { name: 'life', destroyed: true });
    await assert.rejects(client.boxes.get('life'), (error) => isNsboxApiError(error) && error.status === 404 && error.code === 'E_NOT_FOUND');
    assert.deepEqual(await client.boxes.list(), []);
  });

  it('follows the console log until the box stops', async () => {
    const box = await (
      await client.boxes.create({
        name: 'talker',
        config: { template: 'busybox', process: { args: ['sh', '-c', 'echo one; sleep 1; echo two'] } },
        start: true,
      })
    ).wait();
    let text = '';
    for await (const chunk of client.boxes.followLogs(box.name)) text += chunk.toString('utf8');
    assert.equal(text, 'one\ntwo\n');
    assert.equal(await client.boxes.logs(box.name), 'one\ntwo\n');
    assert.equal((await client.boxes.get(box.name)).state, 'stopped');
  });

  it('changes a limit of a running box live, and a core field', async () => {
    const box = await (
      await client.boxes.create({
        name: 'limited',
        config: { template: 'busybox', process: { args: ['sleep', '1000'] }, limits: { memory: 256 * 1024 * 1024 } },
        start: true,
      })
    ).wait();
    assert.equal(readMemoryLimit(nsboxd.cgroupParent, box.id), String(256 * 1024 * 1024));
    const updated = await client.boxes.update('limited', { limits: { memory: 128 * 1024 * 1024 }, annotations: { panel: 'gold' } });
    assert.equal(updated.state, 'running');
    assert.equal(updated.runtime.init?.pid, box.runtime.init?.pid, 'the box was not restarted');
    assert.deepEqual(updated.config.limits, { memory: 128 * 1024 * 1024 });
    assert.deepEqual(updated.config.annotations, { panel: 'gold' });
    assert.equal(readMemoryLimit(nsboxd.cgroupParent, box.id), String(128 * 1024 * 1024));
    // A bad change is refused with the field, and nothing moves.
    await assert.rejects(client.boxes.update('limited', { limits: { memory: 'lots' } }), (error) => {
      assert.ok(isNsboxApiError(error));
      assert.equal(error.status, 400);
      assert.equal(error.field, 'config.limits.memory');
      return true;
    });
    assert.equal(readMemoryLimit(nsboxd.cgroupParent, box.id), String(128 * 1024 * 1024));
  });

  it('runs an interactive pty session over the websocket', async () => {
    await (await client.boxes.create({ name: 'console', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
    const session = await client.boxes.console('console', { command: ['/bin/sh'], rows: 30, cols: 100 });
    let screen = '';
    session.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
    });
    session.write('echo size=$(stty size)\n');
    await until('the first size', () => (/size=30 100/.test(screen) ? true : undefined)).catch((e) => {
      throw new Error(e.message + JSON.stringify(screen));
    });
    session.resize(40, 120);
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.write('echo size=$(stty size); echo $((6 * 7)); exit 3\n');
    assert.equal(await session.exited, 3);
    assert.match(screen, /size=40 120/);
    assert.match(screen, /\r\n42\r\n/);

    // Without a pty: stdout and stderr apart, input until end of file.
    const plain = await client.boxes.console('console', { command: ['sh', '-c', 'cat; echo err >&2'], tty: false });
    let out = '';
    let err = '';
    plain.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    plain.stderr.on('data', (chunk: Buffer) => {
      err += chunk;
    });
    plain.write('typed\n');
    plain.end();
    assert.equal(await plain.exited, 0);
    assert.equal(out, 'typed\n');
    assert.equal(err, 'err\n');

    // A box that does not run answers before the upgrade, with the usual error shape.
    await client.boxes.stop('console', { timeout: 0 });
    await assert.rejects(client.boxes.console('console'), (error) => isNsboxApiError(error) && error.status === 409 && error.code === 'E_INVALID_STATE');
  });

  it("attaches to a box's console over the websocket: its terminal both ways, one client at a time", async () => {
    const config = { template: 'busybox', process: { args: ['sh', '-c', 'while read line; do echo "got:$line"; done'], terminal: true } };
    await (await client.boxes.create({ name: 'tty', config, start: true })).wait();
    const session = await client.boxes.attachConsole('tty');
    let screen = '';
    session.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.write('over the socket\n');
    await until('the answer', () => (/got:over the socket/.test(screen) ? true : undefined));
    // A second client is turned away while one is attached: its console closes at once.
    const second = await client.boxes.attachConsole('tty');
    let refused = '';
    second.stdout.on('data', (chunk: Buffer) => {
      refused += chunk.toString('utf8');
    });
    assert.equal(await second.exited, 0);
    assert.match(refused, /the console is in use/);
    session.close();
    await client.boxes.stop('tty', { timeout: 0 });
    await assert.rejects(client.boxes.attachConsole('tty'), (error) => isNsboxApiError(error) && error.status === 409);
  });

  it('streams events in order and resumes after the connection drops', async () => {
    const controller = new AbortController();
    const seen: BoxEvent[] = [];
    const done = collect(client.events.stream({ signal: controller.signal }), seen, controller);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await (await client.boxes.create({ name: 'evented', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
    await until('the running event', () => (seen.some((event) => event.kind === 'state.running') ? true : undefined));

    // nsboxd goes away under the open stream and comes back: the stream reconnects by itself.
    await nsboxd.restart();
    client = nsboxd.clientFor(nsboxd.daemon.adminToken);
    await client.boxes.stop('evented', { timeout: 0 });
    await client.boxes.destroy('evented');
    await until('the removal event', () => (seen.some((event) => event.kind === 'box.removed') ? true : undefined), 15_000);
    controller.abort();
    await done;

    const history = (await client.events.list({ after: 0 })).events;
    assert.deepEqual(
      seen.map((event) => event.id),
      history.map((event) => event.id),
      'every event once, in order, none lost across the reconnect',
    );
    assert.deepEqual(
      seen.map((event) => event.kind),
      [
        'box.defined',
        'state.creating',
        'state.created',
        'state.starting',
        'isolation.applied',
        'state.running',
        'state.stopping',
        'state.stopped',
        'state.destroying',
        'isolation.range-freed',
        'state.defined',
        'box.removed',
      ],
    );

    // Resuming from an id gives exactly what followed it.
    const resumed: BoxEvent[] = [];
    const again = new AbortController();
    const middle = history[4] as BoxEvent;
    const second = collect(client.events.stream({ after: middle.id, signal: again.signal }), resumed, again);
    await until('the resumed events', () => (resumed.length >= history.length - 5 ? true : undefined));
    again.abort();
    await second;
    assert.deepEqual(
      resumed.map((event) => event.id),
      history.slice(5).map((event) => event.id),
    );
  });

  it('documents every route in OpenAPI from the validating schemas, plugin sections included', async () => {
    const document = (await client.openapi()) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>>;
      components: { schemas: { BoxConfig: { properties: Record<string, { properties?: Record<string, unknown> }> } } };
    };
    assert.ok(document.components.schemas.BoxConfig.properties.limits?.properties?.memory, "the limits plugin's section is in the box config");
    assert.ok(document.components.schemas.BoxConfig.properties.process, "the core's fields are too");
    const create = document.paths['/boxes']?.post?.requestBody?.content['application/json']?.schema;
    assert.deepEqual(Object.keys(create?.properties ?? {}).sort(), ['config', 'name', 'owner', 'start']);
    const { coveredRoutes } = await import('@nsbox/client');
    const all = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    // A plugin's own routes are reached through client.plugins.routes(name).
    assert.deepEqual(
      all.filter((route) => route.includes(`/plugins/${ROUTE_PLUGIN}/`)),
      [`GET /plugins/${ROUTE_PLUGIN}/boxes/{box}/memory`, `POST /plugins/${ROUTE_PLUGIN}/check`],
    );
    // A plugin's actions are one route each, all run by actions.run().
    const action = /^(GET|POST) \/plugins\/[^/]+\/actions\/[^/]+$/;
    assert.ok(all.includes('POST /plugins/limits/actions/pool-create') && all.includes('GET /plugins/limits/actions/show'), "the limits plugin's actions");
    assert.ok(all.includes('POST /boxes/{id}/set'), "the shared set, the plugins' set options");
    const setOptions = (document.components.schemas as Record<string, { properties?: Record<string, { type?: unknown; description?: string }> }>).SetOptions;
    assert.match(setOptions?.properties?.memory?.description ?? '', /--memory <size>; plugin limits/, "its body documents each plugin's options");
    assert.equal(
      (document.paths['/boxes/{id}/set']?.post?.requestBody?.content['application/json']?.schema as { $ref?: string } | undefined)?.$ref,
      '#/components/schemas/SetOptions',
    );
    const documented = [
      ...new Set(
        all.filter((route) => !route.includes(`/plugins/${ROUTE_PLUGIN}/`)).map((route) => route.replace(action, '$1 /plugins/{plugin}/actions/{action}')),
      ),
    ];
    assert.deepEqual(
      documented.filter((route) => !(route in coveredRoutes)),
      [],
      'the SDK wraps every route',
    );
    assert.deepEqual(
      Object.keys(coveredRoutes).filter((route) => !documented.includes(route)),
      [],
      'and nothing else',
    );
  });

  it("serves a plugin's own routes, validated by its schemas, within the caller's tenant", async () => {
    const box = await (
      await client.boxes.create({
        name: 'routed',
        config: { template: 'busybox', process: { args: ['sleep', '100'] }, limits: { memory: 64 * 1024 * 1024 } },
        start: true,
      })
    ).wait();
    const report = client.plugins.routes(ROUTE_PLUGIN);
    assert.deepEqual(await report.get(`/boxes/${box.name}/memory`), { box: 'routed', limit: String(64 * 1024 * 1024) });
    assert.deepEqual(await report.post('/check', { memory: 5 }), { ok: true, memory: 5, tenant: null });
    await assert.rejects(report.post('/check', { memory: 'x' }), (error) => isNsboxApiError(error) && error.status === 400 && error.field === 'memory');
    await client.tenants.create({ name: 'other' });
    const { token } = await client.tokens.create({ name: 'other', tenant: 'other', role: 'operator' });
    const other = nsboxd.clientFor(token).plugins.routes(ROUTE_PLUGIN);
    await assert.rejects(other.get('/boxes/routed/memory'), (error) => isNsboxApiError(error) && error.status === 404);
    assert.deepEqual(await other.post('/check', { memory: 1 }), { ok: true, memory: 1, tenant: 'other' });
    assert.deepEqual((await client.plugins.get(ROUTE_PLUGIN)).routes, [
      `GET /plugins/${ROUTE_PLUGIN}/boxes/:box/memory`,
      `POST /plugins/${ROUTE_PLUGIN}/check`,
    ]);
    assert.deepEqual((await client.plugins.get('limits')).routes, [], 'the limits plugin adds no routes');
  });

  it('reports the host, the plugins and their versions', async () => {
    const host = await client.host();
    assert.equal(host.cgroups.parent, nsboxd.cgroupParent);
    assert.ok(['v1', 'v2', 'hybrid'].includes(host.cgroups.layout as string));
    assert.ok(Array.isArray(host.features.namespaces));
    assert.equal(host.storage[0]?.name, 'state');
    const plugins = await client.plugins.list();
    // The installed packages, loaded by name from the host config, at the versions they carry.
    assert.deepEqual(
      plugins.map((plugin) => `${plugin.name}@${plugin.version}`).sort(),
      [`${ROUTE_PLUGIN}@1.0.0`, `isolation@${isolationPlugin.version}`, `limits@${limitsPlugin.version}`].sort(),
    );
    const limits = await client.plugins.get('limits');
    assert.equal(limits.coreApi, CORE_API_VERSION);
    assert.ok(limits.configSchema);
    const templates = await client.templates.list();
    assert.ok(templates.some((template) => template.name === 'busybox' && template.kind === 'builtin'));
  });
});
