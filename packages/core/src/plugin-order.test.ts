import assert from 'node:assert/strict';
import { NsboxError } from './errors.js';
import { definePlugin } from './plugin.js';
import { checkPlugins, orderPlugins } from './plugin-order.js';

const plugin = (name: string, requires: Record<string, string> = {}, extra: { version?: string; core?: string } = {}) =>
  definePlugin({ name, version: extra.version ?? '1.2.0', core: extra.core ?? '^1.0.0', requires });

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof NsboxError, `expected an NsboxError, got ${error}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('expected an error');
}

describe('plugin ordering and checks', () => {
  it('orders dependencies first and keeps the given order otherwise', () => {
    const plugins = [
      plugin('limits', { tracking: '^1.0.0' }),
      plugin('migration', { limits: '^1.0.0', isolation: '^1.0.0' }),
      plugin('tracking'),
      plugin('isolation'),
    ];
    checkPlugins(plugins, '1.0.0');
    assert.deepEqual(
      orderPlugins(plugins).map((p) => p.name),
      ['tracking', 'limits', 'isolation', 'migration'],
    );
  });

  it('refuses a missing dependency, naming both plugins', () => {
    const error = codeOf(() => checkPlugins([plugin('limits', { tracking: '^1.0.0' })], '1.0.0'));
    assert.equal(error.code, 'E_PLUGIN_DEPENDENCY');
    assert.match(error.message, /'limits' requires plugin 'tracking' \(\^1\.0\.0\)/);
  });

  it('refuses a dependency of the wrong version, naming the versions', () => {
    const error = codeOf(() => checkPlugins([plugin('tracking', {}, { version: '2.0.0' }), plugin('limits', { tracking: '^1.0.0' })], '1.0.0'));
    assert.equal(error.code, 'E_PLUGIN_VERSION');
    assert.match(error.message, /'limits' requires plugin 'tracking' \^1\.0\.0, but 'tracking' is 2\.0\.0/);
  });

  it('refuses a plugin written for another core', () => {
    const error = codeOf(() => checkPlugins([plugin('future', {}, { core: '^2.0.0' })], '1.0.0'));
    assert.equal(error.code, 'E_PLUGIN_VERSION');
    assert.match(error.message, /'future' 1\.2\.0 needs core \^2\.0\.0, but this core is 1\.0\.0/);
  });

  it('refuses a cycle, naming the plugins on it in order', () => {
    const plugins = [plugin('a', { b: '*' }), plugin('b', { c: '*' }), plugin('c', { a: '*' }), plugin('d')];
    checkPlugins(plugins, '1.0.0');
    const error = codeOf(() => orderPlugins(plugins));
    assert.equal(error.code, 'E_PLUGIN_CYCLE');
    assert.match(error.message, /a -> b -> c -> a/);
  });

  it('refuses a name that would clash with a core config field', () => {
    assert.equal(codeOf(() => checkPlugins([plugin('rootfs')], '1.0.0')).code, 'E_PLUGIN_INVALID');
    assert.equal(codeOf(() => checkPlugins([plugin('Bad_Name')], '1.0.0')).code, 'E_PLUGIN_INVALID');
  });
});
