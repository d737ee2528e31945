/**
 * Property-based fuzzing of nsboxd (fast-check): generated malformed requests and configs,
 * each of which must get a 4xx JSON error naming a field, with the daemon still up and the
 * store unchanged. Shared by the fast suite and the long one (*.slow-test.ts).
 */

import assert from 'node:assert/strict';
import { isolationConfigSchema } from '@nsbox/plugin-isolation';
import { limitsConfigSchema } from '@nsbox/plugin-limits';
import fc from 'fast-check';
import type { TestDaemon } from './daemon-fixture.js';
import { raw, storeSnapshot } from './raw-http.js';

interface Sent {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
}

const valid = { name: 'fuzzed', config: { template: 'busybox', process: { args: ['sleep', '1'] } } };

/** Anything that is not a JSON object. */
const notAnObject = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }));
const badName = fc.oneof(
  notAnObject.filter((value) => typeof value !== 'string'),
  fc.constantFrom('', '-x', 'x-', 'UPPER', 'a_b', 'a.b', 'a'.repeat(64), ' x', 'x\n', '../x', 'é'),
  fc.string({ minLength: 1, maxLength: 80 }).filter((text) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(text)),
);
const unknownKey = fc.string({ minLength: 1, maxLength: 20 }).map((key) => `x-${key}`);

/** Sections with one thing wrong, valid as a change of an existing box too. */
const badSections: fc.Arbitrary<Record<string, unknown>>[] = [
  fc.record({ template: fc.oneof(fc.integer(), fc.boolean(), fc.constant(''), fc.array(fc.string(), { maxLength: 2 })) }),
  fc.record({ template: fc.constant('busybox'), process: notAnObject }),
  fc.record({
    template: fc.constant('busybox'),
    process: fc.record({ args: fc.oneof(fc.string(), fc.integer(), fc.constant([]), fc.array(fc.integer(), { minLength: 1, maxLength: 3 })) }),
  }),
  fc.record({
    template: fc.constant('busybox'),
    process: fc.record({ env: fc.oneof(fc.string(), fc.dictionary(fc.constantFrom('1BAD', 'A-B', 'x y', ''), fc.string(), { minKeys: 1 })) }),
  }),
  fc.record({ template: fc.constant('busybox'), process: fc.record({ cwd: fc.string().filter((text) => !text.startsWith('/')) }) }),
  fc.record({
    template: fc.constant('busybox'),
    process: fc.record({ user: fc.oneof(fc.string(), fc.record({ uid: fc.integer({ max: -1 }), gid: fc.nat() })) }),
  }),
  fc.record({ template: fc.constant('busybox'), hostname: fc.oneof(fc.integer(), fc.constantFrom('-bad', 'has space', 'a'.repeat(70), '')) }),
  fc.record({ template: fc.constant('busybox'), annotations: fc.oneof(fc.string(), fc.dictionary(fc.string(), fc.integer(), { minKeys: 1 })) }),
  fc.record({
    template: fc.constant('busybox'),
    limits: fc.oneof(
      notAnObject,
      fc.record({
        memory: fc
          .oneof(
            fc.string(),
            fc.integer({ max: 0 }),
            fc.double().filter((value) => !Number.isInteger(value) || value <= 0),
          )
          // A generated string can be a real size ('8G'): the limits plugin's own schema says which.
          .filter((memory) => !limitsConfigSchema.safeParse({ memory }).success),
      }),
    ),
  }),
  // The isolation plugin's section with one thing wrong, as its own schema judges it.
  fc.record({
    template: fc.constant('busybox'),
    isolation: fc
      .oneof(
        notAnObject,
        fc.record({ privileged: fc.oneof(fc.string(), fc.integer()) }),
        fc.record({ mounts: fc.constant([{ source: 'relative/path', destination: '/mnt' }]) }),
        fc.record({ mounts: fc.constant([{ source: '/tmp', destination: '/' }]) }),
        fc.record({ capabilities: fc.record({ add: fc.constant(['CAP_NOPE']) }) }),
        fc.record({ seccomp: fc.record({ profile: fc.string() }) }),
        fc.record({ uidMappings: fc.constant([{ containerID: 0, hostID: 0, size: 65536 }]) }),
        fc.tuple(unknownKey, fc.jsonValue()).map(([key, value]) => ({ [key]: value })),
      )
      .filter((isolation) => !isolationConfigSchema.safeParse(isolation).success),
  }),
  fc.record({
    template: fc.constant('busybox'),
    plugins: fc.oneof(notAnObject, fc.record({ disable: fc.oneof(fc.string(), fc.constant(['no-such-plugin'])) })),
  }),
  fc.tuple(unknownKey, fc.jsonValue()).map(([key, value]) => ({ template: 'busybox', [key]: value })),
  fc.tuple(unknownKey, fc.jsonValue()).map(([key, value]) => ({ template: 'busybox', process: { args: ['sh'], [key]: value } })),
];

/** A new box's config with exactly one thing wrong in it. */
const badConfig = fc.oneof(
  ...badSections,
  fc.constant({}),
  fc.record({
    rootfs: fc.oneof(
      fc.string().filter((text) => !text.startsWith('/')),
      fc.constant('/nonexistent/rootfs'),
    ),
  }),
);

const json = (value: unknown) => JSON.stringify(value);

export const malformedRequests: fc.Arbitrary<Sent> = fc.oneof(
  // Bodies that are not JSON, or not the JSON of an object.
  fc.string({ maxLength: 200 }).map((body) => ({ method: 'POST', path: '/boxes', body: `{${body}` })),
  notAnObject.map((body) => ({ method: 'POST', path: '/boxes', body: json(body) })),
  fc.string({ minLength: 1, maxLength: 100 }).map((body) => ({ method: 'POST', path: '/boxes', body, contentType: 'text/plain' })),
  // Creates with one field wrong.
  badName.map((name) => ({ method: 'POST', path: '/boxes', body: json({ ...valid, name }) })),
  badConfig.map((config) => ({ method: 'POST', path: '/boxes', body: json({ ...valid, config }) })),
  fc.tuple(unknownKey, fc.jsonValue()).map(([key, value]) => ({ method: 'POST', path: '/boxes', body: json({ ...valid, [key]: value }) })),
  fc.oneof(fc.integer(), fc.string(), fc.constant(null)).map((start) => ({ method: 'POST', path: '/boxes', body: json({ ...valid, start }) })),
  // Live changes with one thing wrong.
  fc.oneof(...badSections).map((config) => {
    // In a change, null removes a section (allowed): only the wrong values are kept.
    const changes = Object.fromEntries(Object.entries(config).filter(([key, value]) => key !== 'template' && value !== null));
    return { method: 'PATCH', path: '/boxes/target', body: json({ config: Object.keys(changes).length > 0 ? changes : { template: 5 } }) };
  }),
  notAnObject.map((config) => ({ method: 'PATCH', path: '/boxes/target', body: json({ config }) })),
  // Actions with bodies of the wrong shape.
  fc
    .oneof(fc.string(), fc.integer({ min: -100, max: -1 }), fc.integer({ min: 3601 }))
    .map((timeout) => ({ method: 'POST', path: '/boxes/target/stop', body: json({ timeout }) })),
  fc
    .oneof(fc.constantFrom('SIGNOPE', 'KILLME', '', '9x'), fc.integer({ max: 0 }), fc.integer({ min: 65 }), fc.boolean())
    .map((signal) => ({ method: 'POST', path: '/boxes/target/kill', body: json({ signal }) })),
  fc
    .oneof(notAnObject, fc.constant([]), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }))
    .filter((command) => !(Array.isArray(command) && command.length > 0 && command.every((item) => typeof item === 'string')))
    .map((command) => ({ method: 'POST', path: '/boxes/target/exec', body: json({ command }) })),
  // Query strings with one thing wrong.
  fc.constantFrom('state=flying', 'colour=red', 'owner=Bad_Owner', 'name=', 'template=').map((query) => ({ method: 'GET', path: `/boxes?${query}` })),
  fc
    .constantFrom('after=-1', 'after=x', 'limit=0', 'limit=abc', 'tenant=x&box=no-such-box', 'kind=')
    .map((query) => ({ method: 'GET', path: `/events?${query}` })),
  // Tenants and tokens with one field wrong.
  fc
    .oneof(
      badName.map((name) => ({ name })),
      fc.record({
        name: fc.constant('t1'),
        quotas: fc.oneof(
          notAnObject,
          fc.record({ boxes: fc.oneof(fc.string(), fc.integer({ max: -1 })) }),
          fc.record({ memory: fc.constantFrom('lots', '-1G', '1X') }),
        ),
      }),
    )
    .map((body) => ({
      method: 'POST',
      path: '/tenants',
      body: json(body),
    })),
  fc
    .oneof(
      fc.record({ name: fc.constant('t'), role: fc.string().filter((role) => !['read-only', 'operator', 'admin'].includes(role)) }),
      fc.record({ name: fc.constant(''), role: fc.constant('admin') }),
      fc.record({ name: fc.constant('t'), role: fc.constant('admin'), expiresIn: fc.oneof(fc.string(), fc.integer({ max: 0 })) }),
    )
    .map((body) => ({
      method: 'POST',
      path: '/tokens',
      body: json(body),
    })),
);

/** Runs `runs` generated requests per batch and checks each answer, then the daemon and the store. */
export async function fuzzDaemon(nsboxd: TestDaemon, runs: number, seed?: number): Promise<number> {
  const db = nsboxd.daemon.context.host.store.db;
  const before = storeSnapshot(db);
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(malformedRequests, async (request) => {
      sent += 1;
      const response = await raw(nsboxd.socketPath, request.method, request.path, {
        token: nsboxd.daemon.adminToken,
        ...(request.body !== undefined ? { body: request.body } : {}),
        ...(request.contentType ? { contentType: request.contentType } : {}),
      });
      const error = (response.json as { error?: { code?: unknown; field?: unknown } } | undefined)?.error;
      assert.ok(response.status >= 400 && response.status < 500, `${request.method} ${request.path} ${request.body}: ${response.status} ${response.text}`);
      assert.equal(typeof error?.code, 'string', response.text);
      assert.ok(typeof error?.field === 'string' && error.field.length > 0, `no field named: ${response.text}`);
    }),
    { numRuns: runs, ...(seed !== undefined ? { seed } : {}) },
  );
  assert.deepEqual((await nsboxd.client.health()).status, 'ok');
  assert.equal(storeSnapshot(db), before, 'the store is unchanged');
  return sent;
}
