/**
 * The in-process BoxApi over a real store and the core, with the memory driver: what the
 * CLI in local mode and nsboxd (under its tenant scope) both build on. Actions run through
 * it: input checked by the action's schema naming the field, the box found, and every
 * change the action makes going back through the same BoxApi.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BoxApi, ContainerModule, defineAction, definePlugin, type NsboxError, z } from '@nsbox/core';
import { LocalBoxApi } from './local-box-api.js';
import { type NsboxHost, openHost } from './open-host.js';
import { MemoryDriver } from './test-fixtures.js';

describe('the BoxApi in-process (LocalBoxApi)', () => {
  let stateDir: string;
  let host: NsboxHost | undefined;
  let driver: MemoryDriver;
  const calls: { api: BoxApi; tenant: string | null }[] = [];

  const relabel = defineAction({
    name: 'relabel',
    description: 'sets the box hostname',
    input: z.strictObject({ box: z.string(), hostname: z.string().regex(/^[a-z]+$/, 'lowercase letters only') }),
    box: true,
    async run(input, context) {
      calls.push({ api: context.api, tenant: context.tenant });
      const updated = await context.api.update(input.box, { hostname: input.hostname });
      return { box: context.box?.name, hostname: updated.config.hostname, own: context.own<string>('greeting') };
    },
  });
  const labels = definePlugin({
    name: 'labels',
    version: '1.0.0',
    core: '^1.0.0',
    actions: [relabel],
    module: new ContainerModule(({ bind }) => {
      bind('greeting').toConstantValue('hello');
    }),
  });

  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-boxapi-'));
    driver = new MemoryDriver();
    calls.length = 0;
    host = await openHost({ stateDir, discover: false, driver, plugins: [labels] });
  });

  afterEach(() => {
    host?.close();
    host = undefined;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers as the API does: lists without the spec, get with it, create and start as one', async () => {
    const api = new LocalBoxApi(host as NsboxHost);
    const started = await api.create({ name: 'one', config: { rootfs: '/srv/one' }, start: true });
    assert.equal(started.state, 'running');
    assert.equal(started.runtime.spec, undefined, 'a listed box leaves out its spec');
    assert.ok((await api.get('one')).runtime.spec, 'get has it');
    await api.create({ name: 'two', config: { rootfs: '/srv/two' } });
    assert.deepEqual(
      (await api.list({ state: 'running' })).map((box) => box.name),
      ['one'],
    );
    assert.deepEqual(
      (await api.list({ name: 't' })).map((box) => box.name),
      ['two'],
    );
    assert.deepEqual(await api.kill('one', 'hup'), { name: 'one', signal: 1 });
    await assert.rejects(api.kill('one', 'NOPE'), (error: NsboxError) => error.code === 'E_INVALID_ARGUMENT' && error.details.field === 'signal');
    assert.equal((await api.stop('one', { timeout: 0 })).state, 'stopped');
    assert.deepEqual(await api.destroy('two'), { name: 'two', destroyed: true });
    await assert.rejects(api.exec('one', { command: ['true'] }), (error: NsboxError) => error.code === 'E_UNSUPPORTED');
  });

  it('removes a box whose start fails in a create that starts it', async () => {
    const api = new LocalBoxApi(host as NsboxHost);
    driver.start = async () => {
      throw new Error('no room');
    };
    await assert.rejects(api.create({ name: 'doomed', config: { rootfs: '/srv/doomed' }, start: true }), /no room/);
    assert.deepEqual(await api.list(), []);
  });

  it("runs a plugin's action: input checked naming the field, its box found, its changes made through the same BoxApi", async () => {
    const api = new LocalBoxApi(host as NsboxHost);
    await api.create({ name: 'web', config: { rootfs: '/srv/web' } });
    assert.deepEqual(await api.actions(), [
      {
        plugin: 'labels',
        name: 'relabel',
        description: 'sets the box hostname',
        box: true,
        readOnly: false,
        hostWide: false,
        role: 'operator',
        method: 'POST',
        path: '/plugins/labels/actions/relabel',
        command: 'labels relabel',
        operation: false,
      },
    ]);
    assert.deepEqual(await api.runAction('labels', 'relabel', { box: 'web', hostname: 'front' }), { box: 'web', hostname: 'front', own: 'hello' });
    assert.equal((await api.get('web')).config.hostname, 'front');
    assert.equal(calls[0]?.api, api, 'the action changes the box through the BoxApi it was called by');
    assert.equal(calls[0]?.tenant, null);

    await assert.rejects(api.runAction('labels', 'relabel', { box: 'web', hostname: 'Front' }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_ARGUMENT');
      assert.equal(error.message, 'invalid input of action labels relabel: hostname: lowercase letters only');
      assert.equal(error.details.field, 'hostname');
      return true;
    });
    await assert.rejects(api.runAction('labels', 'relabel', { box: 'nowhere', hostname: 'x' }), (error: NsboxError) => error.code === 'E_NOT_FOUND');
    await assert.rejects(api.runAction('labels', 'rename', {}), /no action 'rename' in plugin 'labels'/);
    assert.equal(calls.length, 1, 'nothing ran for the refused calls');
  });
});
