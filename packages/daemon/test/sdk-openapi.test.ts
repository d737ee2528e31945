/**
 * What a real nsboxd answers the SDK, checked against nsboxd's own OpenAPI document: each
 * body an SDK method resolves to must be valid for the success answer of its route (ajv,
 * JSON Schema 2020-12). With sdk-types.check.ts (the SDK's types against the same schemas at
 * compile time), neither the SDK, the schemas nor the handlers can drift from the others.
 */

import assert from 'node:assert/strict';
import type { BoxEvent, NsboxClient } from '@nsbox/client';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { startTestDaemon, type TestDaemon } from './daemon-fixture.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
}

/** An ajv error as a line that names the field (an unexpected one too). */
function errorLine(error: ErrorObject): string {
  const extra = (error.params as { additionalProperty?: string }).additionalProperty;
  return `body${error.instancePath} ${error.message}${extra === undefined ? '' : ` ('${extra}')`}`;
}

/** Checks a body against the success answer the document gives a route ('GET /boxes/{id}'): the route and ajv's errors when it does not fit. */
function answerChecker(document: OpenApiDocument): (route: string, body: unknown) => void {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  // zod names its startsWith check as a format; the `pattern` beside it is what checks the text.
  ajv.addFormat('starts_with', true);
  const validators = new Map<string, ValidateFunction>();
  const validatorOf = (route: string): ValidateFunction => {
    const known = validators.get(route);
    if (known) return known;
    const [method = '', path = ''] = route.split(' ');
    const responses = document.paths[path]?.[method.toLowerCase()]?.responses;
    assert.ok(responses, `${route} is in the OpenAPI document`);
    const success = Object.entries(responses).find(([status]) => /^2\d\d$/.test(status))?.[1];
    const schema = success?.content?.['application/json']?.schema;
    assert.ok(schema, `${route} documents a JSON answer`);
    const validate = ajv.compile(schema);
    validators.set(route, validate);
    return validate;
  };
  return (route, body) => {
    const validate = validatorOf(route);
    if (!validate(body)) assert.fail(`${route} answered a body its OpenAPI schema refuses: ${(validate.errors ?? []).map(errorLine).join('; ')}`);
  };
}

describe("nsboxd's answers to the SDK against its OpenAPI document", function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let client: NsboxClient;
  let check: (route: string, body: unknown) => void;
  /** The body an SDK call resolves to, once checked against its route's answer. */
  const answer = async <T>(route: string, call: Promise<T>): Promise<T> => {
    const body = await call;
    check(route, body);
    return body;
  };

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  beforeEach(async () => {
    nsboxd = await startTestDaemon(cleanup);
    client = nsboxd.client;
    check = answerChecker((await client.openapi()) as unknown as OpenApiDocument);
  });

  it('refuses a body that does not fit, naming the route and the field', async () => {
    const caller = await answer('GET /whoami', client.whoami());
    assert.throws(
      () => check('GET /whoami', { ...caller, scopes: [] }),
      /^AssertionError.*GET \/whoami answered .*body must NOT have additional properties \('scopes'\)/,
    );
    assert.throws(() => check('GET /whoami', { ...caller, role: 'root' }), /GET \/whoami answered .*body\/role must be equal to one of the allowed values/);
    assert.throws(() => check('GET /boxes/{id}', { id: 'x' }), /GET \/boxes\/\{id\} answered .*must have required property 'name'/);
  });

  it('boxes, operations, exec and events', async () => {
    const created = await client.boxes.create({ name: 'shape', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true });
    check('POST /boxes', created.current);
    check('GET /boxes/{id}', await created.wait());
    const operation = await answer('GET /operations/{id}', client.operations.get(created.id));
    assert.equal(operation.status, 'success');
    await answer('GET /operations', client.operations.list());
    await answer('POST /config/validate', client.validateConfig({ template: 'busybox', limits: { memory: '64M' } }));

    assert.equal((await answer('GET /boxes', client.boxes.list())).length, 1);
    const box = await answer('GET /boxes/{id}', client.boxes.get('shape'));
    assert.equal(box.state, 'running');
    await answer('GET /boxes/{id}/details', client.boxes.details('shape'));
    await answer('PATCH /boxes/{id}', client.boxes.update('shape', { annotations: { panel: 'gold' } }));
    const exec = await answer('POST /boxes/{id}/exec', client.boxes.exec('shape', { command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }));
    assert.deepEqual(exec, { exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    await answer('POST /boxes/{id}/pause', client.boxes.pause('shape'));
    await answer('POST /boxes/{id}/resume', client.boxes.resume('shape'));
    await answer('POST /boxes/{id}/stop', client.boxes.stop('shape', { timeout: 1 }));
    await answer('POST /boxes/{id}/start', client.boxes.start('shape'));
    await answer('POST /boxes/{id}/kill', client.boxes.kill('shape', 'SIGKILL'));

    const history = await answer('GET /boxes/{id}/history', client.boxes.history('shape'));
    const page = await answer('GET /events', client.events.list());
    assert.ok(history.length > 0 && page.events.length >= history.length, 'the box has a history and the feed has it');
    // The stream's events are those of GET /events: checked as a page of them.
    const controller = new AbortController();
    const streamed: BoxEvent[] = [];
    for await (const event of client.events.stream({ after: 0, signal: controller.signal })) {
      streamed.push(event);
      if (streamed.length === 3) controller.abort();
    }
    check('GET /events', { events: streamed, lastId: streamed.at(-1)?.id });

    await answer('DELETE /boxes/{id}', client.boxes.destroy('shape', { force: true }));
  });

  it('templates, plugins, actions, host, tenants, tokens, whoami and audit', async () => {
    await answer('GET /health', client.health());
    await answer('GET /host', client.host());
    await answer('GET /templates', client.templates.list());
    await answer('GET /templates/{name}', client.templates.get('busybox'));
    await answer('GET /plugins', client.plugins.list());
    await answer('GET /plugins/{name}', client.plugins.get('limits'));
    await answer('GET /actions', client.actions.list());

    await answer(
      'POST /tenants',
      client.tenants.create({ name: 'shape-co', quotas: { boxes: 2, memory: '1G' }, policy: { roles: { admin: ['isolation.mounts'] } } }),
    );
    await answer('PATCH /tenants/{name}', client.tenants.update('shape-co', { description: 'a panel customer' }));
    await answer('GET /tenants', client.tenants.list());
    await answer('GET /tenants/{name}', client.tenants.get('shape-co'));
    await answer('GET /tenants/{name}/usage', client.tenants.usage('shape-co'));
    const issued = await answer('POST /tokens', client.tokens.create({ name: 'shape-panel', tenant: 'shape-co', role: 'operator', expiresIn: 3600 }));
    await answer('GET /whoami', client.whoami());
    await answer('GET /whoami', nsboxd.clientFor(issued.token).whoami());
    await answer('GET /tokens', client.tokens.list());
    await answer('DELETE /tokens/{id}', client.tokens.revoke(issued.record.id));
    await answer('DELETE /tenants/{name}', client.tenants.remove('shape-co'));
    const audit = await answer('GET /audit', client.audit());
    assert.ok(
      audit.some((entry) => entry.route === 'DELETE /tenants/:name'),
      'the audit log has the calls made here',
    );
  });
});
