/**
 * An outside author's plugin, packed with `npm pack` and installed into a scratch project,
 * is discovered by a host, contributes a config section, a hook and a CLI command; one
 * written for another core is refused by name.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openHost } from '@nsbox/host';
import { MemoryDriver } from '../../packages/host/src/test-fixtures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cliMain = join(repo, 'packages/cli/src/main.ts');

function nsbox(stateDir: string, pluginPath: string, ...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', cliMain, '--state-dir', stateDir, '--plugin-path', pluginPath, ...args],
    {
      encoding: 'utf8',
      cwd: repo,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a third-party plugin installed from a packed tarball', function () {
  this.timeout(120_000);
  let scratch: string;
  let stateDir: string;
  let nodeModules: string;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'nsbox-test-scratch-'));
    stateDir = join(scratch, 'state');
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch, join(repo, 'examples/hello-plugin')], { encoding: 'utf8' }).trim();
    const project = join(scratch, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, dependencies: { 'nsbox-plugin-hello': `file:${join(scratch, packed)}` } }),
    );
    // The plugin's only dependency is a peer (@nsbox/core), which the host provides.
    execFileSync('npm', ['install', '--legacy-peer-deps', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, stdio: 'pipe' });
    nodeModules = join(project, 'node_modules');
    mkdirSync(join(nodeModules, '@nsbox'), { recursive: true });
    symlinkSync(join(repo, 'packages/core'), join(nodeModules, '@nsbox/core'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('is discovered and listed by `nsbox plugins`', () => {
    const { code, stdout, stderr } = nsbox(stateDir, nodeModules, 'plugins', '--json');
    assert.equal(code, 0, stderr);
    const plugins = JSON.parse(stdout) as { name: string; version: string; commands: string[]; enabled: boolean }[];
    const hello = plugins.find((plugin) => plugin.name === 'hello');
    assert.deepEqual(hello && { version: hello.version, commands: hello.commands, enabled: hello.enabled }, {
      version: '1.0.0',
      commands: ['hello'],
      enabled: true,
    });
  });

  it('contributes a CLI command', () => {
    const { code, stdout, stderr } = nsbox(stateDir, nodeModules, 'hello', 'panel', '--shout');
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'HELLO, PANEL');
  });

  it('contributes a config section that is validated by its schema', () => {
    const good = join(scratch, 'good.json');
    const bad = join(scratch, 'bad.json');
    writeFileSync(good, JSON.stringify({ hello: { greeting: 'hi' } }));
    writeFileSync(bad, JSON.stringify({ hello: { greeting: 'hi', volume: 11 } }));
    assert.equal(nsbox(stateDir, nodeModules, 'config', 'validate', good).code, 0);
    const refused = nsbox(stateDir, nodeModules, 'config', 'validate', bad);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /hello\.volume: unknown field/);
  });

  it('runs its hooks on a box', async () => {
    const host = await openHost({ stateDir: join(scratch, 'state-hooks'), pluginPaths: [nodeModules], driver: new MemoryDriver() });
    try {
      // A rootfs no other host user can reach (the isolation plugin, when installed, refuses one they can).
      const rootfs = join(scratch, 'greeted-rootfs');
      mkdirSync(rootfs, { recursive: true, mode: 0o755 });
      await host.manager.create({ name: 'greeted', config: { rootfs, hello: { greeting: 'good morning' } } });
      const box = await host.manager.start('greeted');
      assert.equal((box.runtime.spec as { annotations: Record<string, string> }).annotations['org.example.hello'], 'good morning');
      assert.deepEqual(
        host.manager.history({ boxId: box.id, kind: 'hello' }).map((event) => [event.kind, event.source, event.data.greeting]),
        [['hello.greeted', 'hello', 'good morning']],
      );
    } finally {
      host.close();
    }
  });

  it('refuses a plugin written for an incompatible core, naming it', () => {
    const future = join(scratch, 'future/node_modules/nsbox-plugin-future');
    mkdirSync(future, { recursive: true });
    writeFileSync(
      join(future, 'package.json'),
      JSON.stringify({ name: 'nsbox-plugin-future', version: '3.0.0', type: 'module', main: 'index.js', nsbox: { plugin: true } }),
    );
    writeFileSync(
      join(future, 'index.js'),
      "import { definePlugin } from '@nsbox/core';\nexport const futurePlugin = definePlugin({ name: 'future', version: '3.0.0', core: '^2.0.0' });\n",
    );
    mkdirSync(join(scratch, 'future/node_modules/@nsbox'));
    symlinkSync(join(repo, 'packages/core'), join(scratch, 'future/node_modules/@nsbox/core'));
    const { code, stderr } = nsbox(join(scratch, 'state-future'), join(scratch, 'future/node_modules'), 'plugins');
    assert.equal(code, 12);
    assert.match(stderr, /plugin 'future' 3\.0\.0 needs core \^2\.0\.0, but this core is 1\.0\.0 \[E_PLUGIN_VERSION\]/);
  });
});
