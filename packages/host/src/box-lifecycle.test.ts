import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definePlugin, type NsboxError, z } from '@nsbox/core';
import sinon from 'sinon';
import { type NsboxHost, openHost } from './open-host.js';
import { type Journal, MemoryDriver, recordingPlugin } from './test-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('box lifecycle through the core and a real SQLite store', () => {
  let stateDir: string;
  let host: NsboxHost | undefined;

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-state-'));
  });
  afterEach(() => {
    host?.close();
    host = undefined;
    sinon.restore();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function open(journal: Journal, failOn?: { plugin: string; hook: 'prepare' | 'started' | 'update' }) {
    const fail = (name: string) => (failOn?.plugin === name ? { failOn: failOn.hook } : {});
    host = await openHost({
      stateDir,
      discover: false,
      driver: new MemoryDriver(),
      plugins: [
        recordingPlugin('gamma', journal, { requires: { beta: '^1.0.0' }, ...fail('gamma') }),
        recordingPlugin('alpha', journal, fail('alpha')),
        recordingPlugin('beta', journal, { requires: { alpha: '^1.0.0' }, ...fail('beta') }),
      ],
    });
    return host;
  }

  it('runs start hooks in dependency order and teardown hooks in reverse', async () => {
    const journal: Journal = [];
    const { manager } = await open(journal);
    await manager.create({ name: 'web1', config: { rootfs: '/srv/web1' } });
    journal.length = 0;
    const started = await manager.start('web1');
    assert.equal(started.state, 'running');
    assert.deepEqual(
      journal.filter((line) => line.endsWith(':prepare')),
      ['alpha:prepare', 'beta:prepare', 'gamma:prepare'],
    );
    assert.equal((started.runtime.spec as { annotations: Record<string, string> }).annotations['gamma.seen'], 'yes');
    journal.length = 0;
    await manager.stop('web1');
    assert.deepEqual(journal, ['gamma:stopping', 'beta:stopping', 'alpha:stopping', 'gamma:stopped', 'beta:stopped', 'alpha:stopped']);
  });

  it('undoes completed hooks in reverse when one fails midway, leaving the box as it was', async () => {
    const journal: Journal = [];
    const { manager, store } = await open(journal, { plugin: 'gamma', hook: 'prepare' });
    await manager.create({ name: 'web2', config: {} });
    const before = manager.get('web2');
    journal.length = 0;
    await assert.rejects(manager.start('web2'), (error: NsboxError) => {
      assert.equal(error.code, 'E_HOOK_FAILED');
      assert.match(error.message, /hook:gamma:prepare failed: gamma refuses prepare/);
      return true;
    });
    const rollbacks = journal.filter((line) => line.includes(':rollback:'));
    assert.deepEqual(rollbacks, [
      'beta:rollback:prepare',
      'alpha:rollback:prepare',
      'gamma:rollback:spec',
      'beta:rollback:spec',
      'alpha:rollback:spec',
      'gamma:rollback:validate',
      'beta:rollback:validate',
      'alpha:rollback:validate',
    ]);
    const after = manager.get('web2');
    assert.equal(after.state, before.state);
    assert.deepEqual(after.config, before.config);
    assert.equal(store.unfinished().length, 0);
  });

  it('undoes a live update that a plugin refuses, keeping the old config', async () => {
    const journal: Journal = [];
    const { manager } = await open(journal, { plugin: 'gamma', hook: 'update' });
    await manager.create({ name: 'web3', config: { alpha: { level: 1 }, gamma: { level: 1 } } });
    await manager.start('web3');
    journal.length = 0;
    await assert.rejects(manager.update('web3', { alpha: { level: 5 }, gamma: { level: 5 } }), /gamma refuses update/);
    assert.deepEqual(journal, ['alpha:update', 'alpha:rollback:update']);
    assert.deepEqual(manager.get('web3').config.alpha, { level: 1 });
  });

  it('refuses a bad config naming the field, and creates nothing', async () => {
    const { manager, store } = await open([]);
    await assert.rejects(manager.create({ name: 'web4', config: { beta: { level: 99 } } }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_CONFIG');
      assert.match(error.message, /beta\.level/);
      return true;
    });
    assert.equal(store.find('web4'), undefined);
    await assert.rejects(manager.create({ name: 'Bad Name', config: {} }), /box name 'Bad Name'/);
  });

  it('refuses operations from the wrong state with E_INVALID_STATE', async () => {
    const { manager } = await open([]);
    await manager.create({ name: 'web5', config: {} });
    await assert.rejects(manager.stop('web5'), (error: NsboxError) => error.code === 'E_INVALID_STATE');
    await manager.start('web5');
    await assert.rejects(manager.destroy('web5'), /cannot destroy box 'web5': it is running/);
    await assert.rejects(manager.create({ name: 'web5', config: {} }), (error: NsboxError) => error.code === 'E_ALREADY_EXISTS');
  });

  it('keeps history across a restart of the host process, queryable by box, kind and time', async () => {
    const clock = sinon.stub().returns(1_000);
    host = await openHost({ stateDir, discover: false, driver: new MemoryDriver(), clock });
    await host.manager.create({ name: 'web6', config: {} });
    clock.returns(2_000);
    await host.manager.start('web6');
    clock.returns(3_000);
    await host.manager.stop('web6');
    const id = host.manager.get('web6').id;
    host.close();

    host = await openHost({ stateDir, discover: false, driver: new MemoryDriver() });
    const all = host.manager.history({ boxId: id });
    assert.deepEqual(
      all.map((event) => event.kind),
      ['box.defined', 'state.creating', 'state.created', 'state.starting', 'state.running', 'state.stopping', 'state.stopped'],
    );
    assert.deepEqual(
      host.manager.history({ boxId: id, kind: 'state', since: 2_000, until: 2_999 }).map((event) => event.kind),
      ['state.starting', 'state.running'],
    );
    assert.equal(host.manager.history({ boxId: 'another-box' }).length, 0);
  });

  // A process killed in beta's prepare, as it began or once it had left its marker: either
  // way reconcile undoes beta's prepare too (its rollback is idempotent), then what came before.
  for (const where of ['between', 'inside'] as const) {
    it(`reconciles a process killed ${where === 'between' ? 'between two steps of a start' : 'inside a step of a start, before the step was recorded done'}`, async function () {
      this.timeout(30_000);
      const markers = mkdtempSync(join(tmpdir(), 'nsbox-test-markers-'));
      try {
        const child = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(here, 'crash-midway.fixture.ts'), stateDir, markers, where], {
          encoding: 'utf8',
        });
        assert.equal(child.signal, 'SIGKILL', `the fixture should die by SIGKILL: ${child.stderr}`);
        const prepared = where === 'inside' ? ['alpha-crashy', 'beta-crashy'] : ['alpha-crashy'];
        assert.deepEqual(readdirSync(markers).sort(), prepared, 'what was prepared before the crash');

        const journal: Journal = [];
        host = await openHost({
          stateDir,
          discover: false,
          driver: new MemoryDriver(),
          plugins: [
            recordingPlugin('alpha', journal, { markerDir: markers }),
            recordingPlugin('beta', journal, { requires: { alpha: '^1.0.0' }, markerDir: markers }),
          ],
        });
        assert.equal(host.manager.get('crashy').state, 'starting');
        const repaired = await host.manager.reconcile();
        assert.deepEqual(
          repaired.map((record) => record.kind),
          ['start'],
        );
        assert.equal(host.manager.get('crashy').state, 'created');
        assert.deepEqual(readdirSync(markers), [], 'rollback removed what alpha and beta prepared');
        assert.deepEqual(journal, [
          'beta:rollback:prepare',
          'alpha:rollback:prepare',
          'beta:rollback:spec',
          'alpha:rollback:spec',
          'beta:rollback:validate',
          'alpha:rollback:validate',
        ]);
        assert.equal(host.store.unfinished().length, 0);
        const events = host.manager.history({ boxId: host.manager.get('crashy').id, kind: 'operation' });
        assert.deepEqual(
          events.map((event) => event.kind),
          ['operation.rolled-back'],
        );
        assert.equal((events[0]?.data.undone as string[] | undefined)?.[0], 'hook:beta:prepare', 'the step it was in is among the undone');
      } finally {
        rmSync(markers, { recursive: true, force: true });
      }
    });
  }

  it('refuses a second operation on a box while another live process runs one', async () => {
    const { manager, store } = await open([]);
    await manager.create({ name: 'web7', config: {} });
    const box = manager.get('web7');
    store.begin({ boxId: box.id, kind: 'start', fromState: 'created', pid: process.ppid });
    await assert.rejects(manager.start('web7'), (error: NsboxError) => error.code === 'E_BUSY');
  });

  it("destroys a box whose init's end another flow is settling once that flow's tear-down hooks end, instead of E_BUSY", async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const journal: Journal = [];
    class SlowStop {
      async stopped() {
        journal.push('slow:stopped:begun');
        await released;
        journal.push('slow:stopped:ended');
      }
    }
    const driver = new MemoryDriver();
    const slow = definePlugin({ name: 'slow', version: '1.0.0', core: '^1.0.0', config: z.strictObject({}), hooks: SlowStop });
    host = await openHost({ stateDir, discover: false, driver, plugins: [slow] });
    const { manager } = host;
    await manager.create({ name: 'rm', config: {} });
    const box = await manager.start('rm');
    driver.running.delete(box.id); // the init exits

    const settling = manager.sync('rm'); // the resident agent's watcher
    while (!journal.includes('slow:stopped:begun')) await new Promise((resolve) => setTimeout(resolve, 5));
    const destroyed = manager.destroy('rm', { force: true }).then(() => journal.push('destroyed'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(journal, ['slow:stopped:begun'], 'the destroy waits while the stop runs');
    release();
    await Promise.all([settling, destroyed]);
    assert.deepEqual(journal, ['slow:stopped:begun', 'slow:stopped:ended', 'destroyed']);
    assert.equal(host.store.find('rm'), undefined);
  });

  it('disables plugins per host and per box, refusing to disable what another needs', async () => {
    const journal: Journal = [];
    const plugins = [recordingPlugin('alpha', journal), recordingPlugin('beta', journal, { requires: { alpha: '^1.0.0' } })];
    await assert.rejects(openHost({ stateDir, discover: false, plugins, disabled: ['alpha'] }), (error: NsboxError) => {
      assert.equal(error.code, 'E_PLUGIN_DEPENDENCY');
      assert.match(error.message, /'beta' requires plugin 'alpha'/);
      return true;
    });
    host = await openHost({ stateDir, discover: false, plugins, disabled: ['beta'], driver: new MemoryDriver() });
    assert.deepEqual(
      host.plugins.describe().map((plugin) => [plugin.name, plugin.enabled]),
      [
        ['alpha', true],
        ['beta', false],
      ],
    );
    await host.manager.create({ name: 'solo', config: { plugins: { disable: ['alpha'] } } });
    journal.length = 0;
    await host.manager.start('solo');
    assert.deepEqual(journal, [], 'no hook of a plugin disabled for the box runs');
    host.close();
    host = await openHost({ stateDir, discover: false, plugins, driver: new MemoryDriver() });
    await assert.rejects(
      host.manager.create({ name: 'needy', config: { plugins: { disable: ['alpha'] } } }),
      /disables plugin 'alpha', which plugin 'beta' requires/,
    );
  });
});
