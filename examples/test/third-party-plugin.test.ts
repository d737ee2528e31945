/**
 * An outside author's plugin, packed with `npm pack` and installed into a scratch project, is
 * discovered by a host and works on the host API: a config section, plain-function hooks, a
 * box-info contribution, an action (a CLI command in local mode, an API route with a tenant's
 * token, an SDK call, an OpenAPI operation) and a host service; one written for another core
 * is refused by name.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from '../../packages/daemon/test/daemon-fixture.js';
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
  const cleanup = useCleanup();
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
    symlinkSync(join(repo, 'packages/runtime-api'), join(nodeModules, '@nsbox/runtime-api'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** The plugin as the scratch project has it (the packed copy, not the repo's). */
  async function packedPlugin(): Promise<AnyPlugin> {
    const module = (await import(pathToFileURL(join(nodeModules, 'nsbox-plugin-hello/index.js')).href)) as { helloPlugin: AnyPlugin };
    return module.helloPlugin;
  }

  it('is discovered and listed by `nsbox plugins`', () => {
    const { code, stdout, stderr } = nsbox(stateDir, nodeModules, 'plugins', '--json');
    assert.equal(code, 0, stderr);
    const plugins = JSON.parse(stdout) as { name: string; version: string; actions: string[]; enabled: boolean }[];
    const hello = plugins.find((plugin) => plugin.name === 'hello');
    assert.deepEqual(hello && { version: hello.version, actions: hello.actions, enabled: hello.enabled }, {
      version: '2.0.0',
      actions: ['greet'],
      enabled: true,
    });
  });

  it('its action is a CLI command in local mode, and its box-info section shows in nsbox info', () => {
    const rootfs = join(scratch, 'cli-rootfs');
    mkdirSync(rootfs, { recursive: true, mode: 0o755 });
    const created = nsbox(stateDir, nodeModules, 'create', 'greeted-cli', '--rootfs', rootfs, '--json');
    assert.equal(created.code, 0, created.stderr);
    const greeted = nsbox(stateDir, nodeModules, 'hello', 'greet', 'greeted-cli', '--shout', '--json');
    assert.equal(greeted.code, 0, greeted.stderr);
    assert.deepEqual(JSON.parse(greeted.stdout), { greeting: 'HELLO, GREETED-CLI', processes: 0 });
    const info = nsbox(stateDir, nodeModules, 'info', 'greeted-cli', '--json');
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((JSON.parse(info.stdout) as { details: Record<string, unknown> }).details.hello, { greeting: 'hello', processes: 0 });
    assert.equal(nsbox(stateDir, nodeModules, 'destroy', 'greeted-cli').code, 0);
  });

  it("its action is an API route and an SDK call with a tenant's token, in OpenAPI, scoped to the tenant", async () => {
    const nsboxd = await startTestDaemon(cleanup, { plugins: [await packedPlugin()] });
    const admin = nsboxd.client;
    const tokenOf = async (tenant: string) => {
      await admin.tenants.create({ name: tenant, quotas: { boxes: 2 } });
      return nsboxd.clientFor((await admin.tokens.create({ name: `${tenant}-op`, tenant, role: 'operator' })).token);
    };
    const acme = await tokenOf('acme');
    const rival = await tokenOf('rival');
    await (
      await acme.boxes.create({ name: 'web', config: { template: 'busybox', process: { args: ['sleep', '1000'] }, hello: { greeting: 'hi' } }, start: true })
    ).wait();
    const greeted = await acme.actions.run<{ greeting: string; processes: number }>('hello', 'greet', { box: 'web' });
    // The plugin sees the stored box, whose name carries its tenant (box names are per tenant).
    assert.equal(greeted.greeting, 'hi, acme--web');
    assert.ok(greeted.processes >= 1, `the box's cgroup holds its init: ${greeted.processes}`);
    await assert.rejects(rival.actions.run('hello', 'greet', { box: 'web' }), (error: { status?: number }) => error.status === 404);
    const openapi = (await admin.openapi()) as { paths: Record<string, unknown> };
    assert.ok(
      Object.keys(openapi.paths).some((path) => path.includes('/plugins/hello/actions/greet')),
      'the action is an OpenAPI operation',
    );
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
    assert.match(stderr, /plugin 'future' 3\.0\.0 needs core \^2\.0\.0, but this core is 1\.1\.0 \[E_PLUGIN_VERSION\]/);
  });
});
