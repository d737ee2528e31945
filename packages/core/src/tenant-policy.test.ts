import assert from 'node:assert/strict';
import { z } from 'zod';
import { definePlugin } from './plugin.js';
import { parseFieldPattern, sectionDefaults, tenantPolicyRefusals } from './tenant-policy.js';

const net = definePlugin({
  name: 'net',
  version: '1.0.0',
  core: '^1.0.0',
  tenantSafe: {
    mode: { values: ['private'] },
    'ports[].number': true,
    'limits.*': { capped: (value) => value as number },
  },
});
const silent = definePlugin({ name: 'silent', version: '1.0.0', core: '^1.0.0' });
const plugins = [net, silent];
const paths = (config: Record<string, unknown>, options: { previous?: Record<string, unknown>; grants?: { path: string; max?: number }[] } = {}) =>
  tenantPolicyRefusals({ config, plugins, grants: options.grants ?? [], previous: options.previous }).map((refusal) => refusal.path);

describe('tenant policy', () => {
  it("allows the core's declared fields and a template by name", () => {
    assert.deepEqual(paths({ template: 'debian', hostname: 'web', process: { args: ['sh'], env: { A: 'b' }, user: { uid: 1, gid: 1 } } }), []);
  });

  it('refuses host paths, plugins.disable and annotations, naming each value', () => {
    assert.deepEqual(paths({ rootfs: '/srv', template: '/srv/t', plugins: { disable: ['net'] }, annotations: { a: 'b' } }), [
      'rootfs',
      'template',
      'plugins.disable[0]',
      'annotations.a',
    ]);
  });

  it('refuses every field of a plugin that declares nothing, and of a section nobody owns', () => {
    assert.deepEqual(paths({ silent: { x: 1 }, ghost: { y: [1] } }), ['silent.x', 'ghost.y[0]']);
  });

  it('keeps a declared field to its safe values; an empty list sets nothing', () => {
    assert.deepEqual(paths({ net: { mode: 'private', ports: [{ number: 80 }], extra: [] } }), []);
    assert.deepEqual(paths({ net: { mode: 'host', ports: [{ number: 80, host: '0.0.0.0' }] } }), ['net.mode', 'net.ports[0].host']);
  });

  it('allows a capped field only within a granted cap', () => {
    assert.deepEqual(paths({ net: { limits: { conns: 10 } } }), ['net.limits.conns']);
    assert.deepEqual(paths({ net: { limits: { conns: 10 } } }, { grants: [{ path: 'net.limits.conns', max: 10 }] }), []);
    assert.deepEqual(paths({ net: { limits: { conns: 11 } } }, { grants: [{ path: 'net.limits.conns', max: 10 }] }), ['net.limits.conns']);
  });

  it('a field grant covers everything below it, but not the reserved annotations', () => {
    assert.deepEqual(paths({ net: { mode: 'host' }, silent: { x: { y: 1 } } }, { grants: [{ path: 'net.mode' }, { path: 'silent' }] }), []);
    assert.deepEqual(paths({ annotations: { a: '1', 'org.nsbox.x': '2' } }, { grants: [{ path: 'annotations' }] }), ['annotations["org.nsbox.x"]']);
    assert.deepEqual(paths({ annotations: { 'org.nsbox.x': '2' } }, { grants: [{ path: 'annotations["org.nsbox.x"]' }] }), []);
  });

  it('judges only what a change changes', () => {
    const previous = { silent: { x: 1 }, hostname: 'a' };
    assert.deepEqual(paths({ silent: { x: 1 }, hostname: 'b' }, { previous }), []);
    assert.deepEqual(paths({ silent: { x: 2 }, hostname: 'b' }, { previous }), ['silent.x']);
  });

  it("does not judge a value its plugin's schema gives an empty section", async () => {
    const grown = definePlugin({
      name: 'grown',
      version: '1.0.0',
      core: '^1.0.0',
      config: z.strictObject({ safe: z.boolean().default(false), added: z.enum(['off', 'on']).default('off') }),
      tenantSafe: { safe: true },
    });
    const defaults = await sectionDefaults([grown]);
    assert.deepEqual(defaults, { grown: { safe: false, added: 'off' } });
    const judge = (config: Record<string, unknown>) => tenantPolicyRefusals({ config, defaults, grants: [], plugins: [grown] }).map((refusal) => refusal.path);
    assert.deepEqual(judge({ grown: { safe: true, added: 'off' } }), []);
    assert.deepEqual(judge({ grown: { safe: true, added: 'on' } }), ['grown.added']);
  });

  it('parses patterns and refuses malformed ones', () => {
    assert.equal(parseFieldPattern('a.b[]["c.d"].*').length, 5);
    assert.throws(() => parseFieldPattern('a..b'), /not a field path/);
    assert.throws(() => parseFieldPattern(''), /must not be empty/);
  });
});
