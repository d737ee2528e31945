/**
 * The plugin contract of the host API: typed refs and `setup` with plain-function hooks,
 * contribution points, child containers that cannot rebind the host's services, the
 * lifecycle's moments in order, exited with the restart policy, checkpoint and restore as
 * operations whose hooks fire, plugin error codes, host settings with defaults; rootfs layers
 * chosen at provision, made by the Linux driver.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnyPlugin,
  boxInfoPoint,
  boxOptionPoint,
  boxStatsPoint,
  ContainerModule,
  CoreTokens,
  contribute,
  coreRefs,
  createContributionPoint,
  createServiceRef,
  defineAction,
  definePlugin,
  type ExitDecision,
  exitPolicyPoint,
  type HookContext,
  hookNames,
  type LifecycleHooks,
  NsboxError,
  type PluginDatabase,
  provide,
  setOptionPoint,
  z,
} from '@nsbox/core';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver } from '@nsbox/runtime';
import { OWN_UPPER, OWN_WORK, runtimeFacts, runtimeRefs } from '@nsbox/runtime-api';
import { findAction, invokeAction } from './actions.js';
import { LocalBoxApi } from './local-box-api.js';
import { type NsboxHost, openHost } from './open-host.js';
import { MemoryDriver } from './test-fixtures.js';

function plainHooks(name: string, journal: string[]): LifecycleHooks {
  const hooks: Record<string, (context: HookContext) => void> = {};
  for (const hook of hookNames.filter((name) => name !== 'update')) {
    hooks[hook] = (context) => {
      journal.push(`${name}:${hook}${context.exit ? `:${context.exit.reason}` : ''}`);
    };
  }
  return hooks as LifecycleHooks;
}

describe('the host API: plugin contract', () => {
  let stateDir: string;
  let host: NsboxHost | undefined;
  let driver: MemoryDriver;

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-hostapi-'));
    driver = new MemoryDriver();
  });
  afterEach(() => {
    host?.close();
    host = undefined;
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function open(plugins: AnyPlugin[]) {
    host = await openHost({ stateDir, discover: false, driver, plugins });
    return host;
  }

  it('gives setup typed deps a plugin provides, and plain-function hooks run in lifecycle order', async () => {
    const counterRef = createServiceRef<{ next(): number }>({ id: 'test.counter' });
    const journal: string[] = [];
    let count = 0;
    const provider = definePlugin({
      name: 'provider',
      version: '1.0.0',
      core: '^1.0.0',
      setup: () => ({ provides: [provide(counterRef, { next: () => ++count })] }),
    });
    const consumer = definePlugin({
      name: 'consumer',
      version: '1.0.0',
      core: '^1.0.0',
      requires: { provider: '^1.0.0' },
      deps: { counter: counterRef },
      setup: ({ deps }) => ({
        hooks: {
          ...plainHooks('consumer', journal),
          started: (context) => context.report('counted', { n: deps.counter.next() }),
        },
      }),
    });
    const { manager } = await open([consumer, provider]);
    await manager.create({ name: 'ref1', config: { rootfs: '/srv/ref1' } });
    await manager.start('ref1');
    assert.deepEqual(journal, [
      'consumer:validate',
      'consumer:provision',
      'consumer:validate',
      'consumer:spec',
      'consumer:prepare',
      'consumer:configure',
      'consumer:wire',
    ]);
    const counted = manager.history({ kind: 'consumer.counted' });
    assert.equal(counted.length, 1);
    assert.equal(counted[0]?.data.n, 1);
  });

  it('holds a box for the wire moment only when a plugin wires it, and runs wire only for those that do', async () => {
    const journal: string[] = [];
    // Wires only the box named 'wired'; the other plugin has no wire hook at all.
    const picky = definePlugin({
      name: 'picky',
      version: '1.0.0',
      core: '^1.0.0',
      setup: () => ({ hooks: { wire: (context) => void journal.push(`picky:wire:${context.box.name}`), wires: (context) => context.box.name === 'wired' } }),
    });
    const always = definePlugin({ name: 'always', version: '1.0.0', core: '^1.0.0', setup: () => ({ hooks: { started: () => undefined } }) });
    const { manager } = await open([picky, always]);
    for (const name of ['wired', 'plain']) {
      await manager.create({ name, config: { rootfs: `/srv/${name}` } });
      await manager.start(name);
    }
    assert.deepEqual(journal, ['picky:wire:wired']);
    assert.equal(driver.held.get(manager.get('wired').id), true, 'held: a plugin wires it');
    assert.equal(driver.held.get(manager.get('plain').id), false, 'not held: nothing to wire');
    // A wire hook without `wires` wires every box, as before.
    journal.length = 0;
    host?.close();
    const plain = definePlugin({ name: 'picky', version: '1.0.0', core: '^1.0.0', setup: () => ({ hooks: { wire: () => void journal.push('wire') } }) });
    const reopened = await open([plain]);
    await reopened.manager.stop('plain', { timeoutMs: 0 });
    await reopened.manager.start('plain');
    assert.deepEqual(journal, ['wire']);
    assert.equal(driver.held.get(reopened.manager.get('plain').id), true);
  });

  it('refuses a plugin whose dependency nobody provides, naming the ref', async () => {
    const missingRef = createServiceRef<string>({ id: 'test.nobody' });
    const needy = definePlugin({ name: 'needy', version: '1.0.0', core: '^1.0.0', deps: { thing: missingRef }, setup: () => ({}) });
    await assert.rejects(open([needy]), (error: NsboxError) => error.code === 'E_PLUGIN_DEPENDENCY' && /test\.nobody/.test(error.message));
  });

  it('loads each plugin in a child container: a rebind of a host service is refused', async () => {
    const rogue = definePlugin({
      name: 'rogue',
      version: '1.0.0',
      core: '^1.0.0',
      module: new ContainerModule(({ bind }) => {
        bind(CoreTokens.BoxRepository).toConstantValue({});
      }),
    });
    await assert.rejects(open([rogue]), (error: NsboxError) => error.code === 'E_PLUGIN_INVALID' && /rogue/.test(error.message));
  });

  it('collects every contribution to a point, the core one and a point a plugin defines', async () => {
    const greetPoint = createContributionPoint<{ greet(): string }>({ id: 'test.greet' });
    const a = definePlugin({
      name: 'a',
      version: '1.0.0',
      core: '^1.0.0',
      setup: () => ({
        contributions: [
          contribute(boxInfoPoint, { section: 'a', describe: (box) => ({ name: box.name }) }),
          contribute(greetPoint, { greet: () => 'a' }),
          contribute(boxStatsPoint, {
            current: async (_box, name) => ({ box: name }),
            history: (_box, name, range) => ({ box: name, range }),
            follow: async () => undefined,
          }),
        ],
      }),
    });
    const b = definePlugin({ name: 'b', version: '1.0.0', core: '^1.0.0', setup: () => ({ contributions: [contribute(greetPoint, { greet: () => 'b' })] }) });
    const opened = await open([a, b]);
    assert.deepEqual(
      opened.plugins
        .contributions(greetPoint)
        .map((c) => c.greet())
        .sort(),
      ['a', 'b'],
    );
    const box = await opened.manager.create({ name: 'info1', config: { rootfs: '/srv/info1' } });
    const sections = await Promise.all(opened.plugins.contributions(boxInfoPoint).map(async (c) => [c.section, await c.describe(box)]));
    assert.deepEqual(sections, [['a', { name: 'info1' }]]);
    // The box-stats point (nsboxd's /boxes/:id/stats routes) answers with the name the caller gives.
    const [stats] = opened.plugins.contributions(boxStatsPoint);
    assert.deepEqual(await stats?.current(box, 'shown'), { box: 'shown' });
    assert.deepEqual(await stats?.history(box, 'shown', { since: '1h' }), { box: 'shown', range: { since: '1h' } });
  });

  it("collects a plugin's create options; what they write goes through the plugin's schema like any config", async () => {
    const plugin = definePlugin({
      name: 'opt',
      version: '1.0.0',
      core: '^1.0.0',
      config: z.strictObject({ color: z.enum(['red', 'blue']).optional() }),
      setup: () => ({
        contributions: [
          contribute(boxOptionPoint, {
            flags: '--color <color>',
            key: 'color',
            description: 'the color',
            apply: (config, value) => {
              config.opt = { ...(config.opt as object | undefined), color: value };
            },
          }),
        ],
      }),
    });
    const opened = await open([plugin]);
    const [option] = opened.plugins.contributions(boxOptionPoint);
    assert.equal(option?.flags, '--color <color>');
    const build = (value: string) => {
      const config: Record<string, unknown> = { rootfs: '/srv/opt' };
      option?.apply(config, value);
      return config;
    };
    const box = await opened.manager.create({ name: 'opt1', config: build('red') });
    assert.deepEqual(box.config.opt, { color: 'red' });
    await assert.rejects(
      opened.manager.create({ name: 'opt2', config: build('green') }),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /opt\.color/.test(error.message),
    );
    assert.equal(opened.manager.list().length, 1);
  });

  it("runs a set of several plugins' options as one change: all validated first, applied together, rolled back together, then the live steps", async () => {
    const live: string[] = [];
    const part = (name: string, field: string, refuse?: string) =>
      definePlugin({
        name,
        version: '1.0.0',
        core: '^1.0.0',
        config: z.strictObject({ level: z.number().int().min(0).optional() }),
        setup: () => ({
          hooks: {
            update: (ctx) => {
              if ((ctx.config as { level?: number } | undefined)?.level === Number(refuse))
                throw new NsboxError('E_INVALID_CONFIG', `${name}.level: refused live`);
            },
          },
          contributions: [
            contribute(setOptionPoint, {
              plugin: name,
              options: { [field]: { flags: `--${field} <n>`, description: 'a level' } },
              input: z.strictObject({ [field]: z.coerce.number().int().min(0).optional() }),
              changes: (_box, values) => ({ [name]: { level: values[field] } }),
              applyLive: (box, values, previous) => {
                live.push(`${name}:${values[field]}:${JSON.stringify(previous.config[name] ?? null)}->${JSON.stringify(box.config[name])}`);
                return { live: true };
              },
              report: (box, result) => ({ ...(box.config[name] as object), ...(result as object | undefined) }),
            }),
          ],
        }),
      });
    const opened = await open([part('alpha', 'alphaLevel'), part('beta', 'betaLevel', '13')]);
    const api = new LocalBoxApi(opened);
    await opened.manager.create({ name: 'multi', config: { rootfs: '/srv/multi' } });
    await opened.manager.start('multi');

    const result = await api.set('multi', { alphaLevel: '2', betaLevel: 3 });
    assert.deepEqual([result.box, result.state, result.alpha, result.beta], ['multi', 'running', { level: 2, live: true }, { level: 3, live: true }]);
    assert.deepEqual(live, ['alpha:2:null->{"level":2}', 'beta:3:null->{"level":3}'], 'the live steps, after the change, with the box before and after');

    const unchanged = () => [opened.manager.get('multi').config.alpha, opened.manager.get('multi').config.beta];
    const refused =
      (field: string, code = 'E_INVALID_ARGUMENT') =>
      (error: NsboxError) =>
        error.code === code && error.details.field === field;
    // A bad value of one part, an unknown option, nothing at all: refused, naming the field, nothing changed.
    await assert.rejects(api.set('multi', { alphaLevel: 5, betaLevel: -1 }), refused('betaLevel'));
    await assert.rejects(api.set('multi', { alphaLevel: 5, gamma: 1 }), refused('gamma'));
    await assert.rejects(api.set('multi', {}), refused('options'));
    // One part refused by its plugin's update hook (beta's, after alpha's ran): alpha's change is taken back with it.
    await assert.rejects(api.set('multi', { alphaLevel: 7, betaLevel: 13 }), (error: NsboxError) => error.code === 'E_INVALID_CONFIG');
    assert.deepEqual(unchanged(), [{ level: 2 }, { level: 3 }]);
    assert.equal(live.length, 2, 'no live step ran for a refused set');

    // A stopped box keeps the change for its next start and runs no live step.
    await opened.manager.stop('multi', { timeoutMs: 0 });
    assert.equal((await api.set('multi', { betaLevel: 4 })).state, 'stopped');
    assert.deepEqual(unchanged(), [{ level: 2 }, { level: 4 }]);
    assert.equal(live.length, 2);
  });

  it('refuses a set option two plugins contribute, naming both', async () => {
    const clash = (name: string) =>
      definePlugin({
        name,
        version: '1.0.0',
        core: '^1.0.0',
        setup: () => ({
          contributions: [
            contribute(setOptionPoint, {
              plugin: name,
              options: { level: { flags: '--level <n>', description: '' } },
              input: z.strictObject({}),
              changes: () => ({}),
            }),
          ],
        }),
      });
    const opened = await open([clash('one'), clash('two')]);
    await opened.manager.create({ name: 'clashing', config: { rootfs: '/srv/clash' } });
    await assert.rejects(
      new LocalBoxApi(opened).set('clashing', { level: 1 }),
      (error: NsboxError) => error.code === 'E_PLUGIN_INVALID' && /plugins 'one' and 'two' both contribute the set option 'level'/.test(error.message),
    );
  });

  it('runs exited with the reason, tears down, and restarts on a reboot from inside the box', async () => {
    const journal: string[] = [];
    const watcher = definePlugin({ name: 'watcher', version: '1.0.0', core: '^1.0.0', setup: () => ({ hooks: plainHooks('watcher', journal) }) });
    const { manager } = await open([watcher]);
    const box = await manager.create({ name: 'reboot1', config: { rootfs: '/srv/reboot1' } });
    await manager.start(box.id);
    journal.length = 0;
    // The init ends with SIGHUP: what reboot(2) does to a pid namespace's init.
    driver.running.delete(box.id);
    driver.nextExit = { state: 'stopped', signal: 1 };
    const synced = await manager.sync(box.id);
    assert.equal(synced.state, 'running', 'a reboot brings the box back');
    assert.deepEqual(journal.slice(0, 3), ['watcher:exited:reboot', 'watcher:stopping', 'watcher:stopped']);
    assert.ok(journal.includes('watcher:started'));
    assert.equal(manager.history({ kind: 'box.restarting' }).length, 1);
  });

  it('keeps a box that halted stopped, and restarts one that failed under on-failure', async () => {
    const { manager } = await open([]);
    const halted = await manager.create({ name: 'halt1', config: { rootfs: '/srv/h', restart: 'always' } });
    await manager.start(halted.id);
    driver.running.delete(halted.id);
    driver.nextExit = { state: 'stopped', signal: 2 };
    assert.equal((await manager.sync(halted.id)).state, 'stopped');

    const failing = await manager.create({ name: 'fail1', config: { rootfs: '/srv/f', restart: 'on-failure' } });
    await manager.start(failing.id);
    driver.running.delete(failing.id);
    driver.nextExit = { state: 'stopped', exitCode: 3 };
    assert.equal((await manager.sync(failing.id)).state, 'running');

    const clean = await manager.create({ name: 'clean1', config: { rootfs: '/srv/c', restart: 'on-failure' } });
    await manager.start(clean.id);
    driver.running.delete(clean.id);
    driver.nextExit = { state: 'stopped', exitCode: 0 };
    assert.equal((await manager.sync(clean.id)).state, 'stopped');
  });

  it('lets an exit policy of a plugin that applies delay a restart (kept, carried out when due, cancelled by a stop) or refuse it with the reason', async () => {
    const decisions: ExitDecision[] = [];
    const seen: unknown[] = [];
    const policy = definePlugin({
      name: 'policy',
      version: '1.0.0',
      core: '^1.0.0',
      config: z.object({ tag: z.string().default('default') }),
      setup: () => ({
        contributions: [
          contribute(exitPolicyPoint, {
            plugin: 'policy',
            decide: ({ exit, config, restartByDefault }) => {
              seen.push([exit.reason, (config as { tag: string }).tag, restartByDefault]);
              return decisions.shift();
            },
          }),
        ],
      }),
    });
    const { manager, store } = await open([policy]);
    const box = await manager.create({ name: 'pol1', config: { rootfs: '/srv/pol1' } });
    const reboot = async () => {
      await manager.start(box.id);
      driver.running.delete(box.id);
      driver.nextExit = { state: 'stopped', signal: 1 };
      return manager.sync(box.id);
    };
    decisions.push({ restart: true, delayMs: 60_000 });
    const waiting = await reboot();
    assert.equal(waiting.state, 'stopped', 'the restart waits');
    assert.deepEqual(seen, [['reboot', 'default', true]], 'the policy got the exit, its section with defaults, and what the core would do');
    const pending = waiting.runtime.pendingRestart as { at: number; reason: string };
    assert.equal(pending.reason, 'reboot');
    assert.equal((await manager.restartDue(box.id)).state, 'stopped', 'not due yet');
    assert.equal(manager.history({ boxId: box.id, kind: 'box.restart-scheduled' })[0]?.data.delayMs, 60_000);
    // Due now: carried out, and recorded as a reboot.
    const stored = manager.get(box.id);
    store.update({ ...stored, runtime: { ...stored.runtime, pendingRestart: { ...pending, at: 0 } } });
    const due = await manager.restartDue(box.id);
    assert.equal(due.state, 'running');
    assert.equal(due.runtime.pendingRestart, undefined);
    assert.equal(manager.history({ boxId: box.id, kind: 'box.rebooted' }).length, 1);

    // A stop while a restart waits cancels it.
    await manager.stop(box.id);
    decisions.push({ restart: true, delayMs: 60_000 });
    assert.equal((await reboot()).state, 'stopped');
    assert.equal((await manager.stop(box.id)).runtime.pendingRestart, undefined);
    assert.equal(manager.history({ boxId: box.id, kind: 'box.restart-cancelled' }).length, 1);

    // Refused with a reason: kept on the box until its next start.
    decisions.push({ restart: false, reason: 'loop' });
    const refused = await reboot();
    assert.equal(refused.state, 'stopped');
    assert.equal(refused.runtime.stopReason, 'loop');
    assert.deepEqual(manager.history({ boxId: box.id, kind: 'box.not-restarted' })[0]?.data.why, 'loop');
    assert.equal((await manager.start(box.id)).runtime.stopReason, undefined);

    // A box that disables the plugin is left to the core: a reboot restarts at once.
    const other = await manager.create({ name: 'pol2', config: { rootfs: '/srv/pol2', plugins: { disable: ['policy'] } } });
    await manager.start(other.id);
    seen.length = 0;
    driver.running.delete(other.id);
    driver.nextExit = { state: 'stopped', signal: 1 };
    assert.equal((await manager.sync(other.id)).state, 'running');
    assert.deepEqual(seen, []);
  });

  it('checkpoint and restore are operations whose hooks fire, around the driver', async () => {
    const journal: string[] = [];
    const recorder = definePlugin({ name: 'recorder', version: '1.0.0', core: '^1.0.0', setup: () => ({ hooks: plainHooks('recorder', journal) }) });
    const { manager } = await open([recorder]);
    const box = await manager.create({ name: 'cr1', config: { rootfs: '/srv/cr1' } });
    await manager.start(box.id);
    journal.length = 0;
    const imageDir = join(stateDir, 'images');
    const saved = await manager.checkpoint(box.id, { imageDir });
    assert.equal(saved.state, 'stopped');
    assert.deepEqual(journal.slice(0, 1), ['recorder:checkpoint']);
    journal.length = 0;
    const restored = await manager.restore(box.id, { imageDir });
    assert.equal(restored.state, 'running');
    assert.equal(restored.runtime.restored, true);
    assert.deepEqual(journal, [
      'recorder:validate',
      'recorder:spec',
      'recorder:prepare',
      'recorder:configure',
      'recorder:wire',
      'recorder:restore',
      'recorder:started',
    ]);
    await assert.rejects(manager.restore(box.id, { imageDir: '/nowhere' }), /running/);
  });

  it('creates a box with the id it had on another host (an import), refusing a malformed or taken one', async () => {
    const { manager } = await open([]);
    const id = '0f6a3a52-7f4e-4b8e-9c1d-2a3b4c5d6e7f';
    const box = await manager.create({ name: 'moved', id, config: { rootfs: '/srv/moved' } });
    assert.equal(box.id, id);
    assert.equal(manager.get(id).name, 'moved');
    await assert.rejects(manager.create({ name: 'other', id, config: { rootfs: '/srv/o' } }), /a box with id .* already exists/);
    await assert.rejects(manager.create({ name: 'bad', id: '../../etc', config: { rootfs: '/srv/o' } }), (error: NsboxError) => {
      assert.equal(error.details?.field, 'id');
      return true;
    });
    assert.deepEqual(
      manager.list().map((listed) => listed.name),
      ['moved'],
    );
  });

  it("gives a plugin's action the face's BoxManager through coreRefs.boxManager (a checkpoint driven by an action)", async () => {
    const saver = definePlugin({
      name: 'saver',
      version: '1.0.0',
      core: '^1.0.0',
      actions: [
        defineAction({
          name: 'save',
          description: 'checkpoint a box',
          input: z.strictObject({ box: z.string(), imageDir: z.string() }),
          box: true,
          run: async ({ imageDir }, { box, services, operation }) => {
            const manager = services.get(coreRefs.boxManager);
            return (await manager.checkpoint((box as { id: string }).id, { imageDir }, operation)).state;
          },
        }),
      ],
    });
    const { manager, plugins } = await open([saver]);
    const box = await manager.create({ name: 'cr2', config: { rootfs: '/srv/cr2' } });
    await manager.start(box.id);
    assert.equal(plugins.get(coreRefs.boxManager), manager);
    const imageDir = join(stateDir, 'images2');
    const state = await invokeAction(
      findAction(plugins, 'saver', 'save'),
      { box: 'cr2', imageDir },
      {
        api: undefined as never,
        tenant: null,
        box: async (ref) => manager.sync(ref),
        services: plugins,
      },
    );
    assert.equal(state, 'stopped');
    assert.equal(driver.checkpoints.get(box.id)?.imageDir, imageDir);
  });

  it("registers a plugin's error codes with their exit codes and HTTP statuses", async () => {
    const coded = definePlugin({ name: 'coded', version: '1.0.0', core: '^1.0.0', errors: { 'pool-full': { exit: 17, http: 507 } } });
    await open([coded]);
    const error = new NsboxError('coded:pool-full', 'the pool is full');
    assert.equal(error.exitCode, 17);
    assert.equal(error.httpStatus, 507);
  });

  it('gives setup its host.json section through its schema, defaults when absent, and refuses a bad one', async () => {
    let seen: unknown;
    const tuned = definePlugin({
      name: 'tuned',
      version: '1.0.0',
      core: '^1.0.0',
      hostSettings: z.strictObject({ interval: z.number().int().positive().default(10) }),
      setup: ({ settings, dataDir }) => {
        seen = { settings, dir: dataDir() };
        return {};
      },
    });
    await open([tuned]);
    assert.deepEqual(seen, { settings: { interval: 10 }, dir: join(stateDir, 'plugins', 'tuned') });
    host?.close();
    host = undefined;
    writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ settings: { tuned: { interval: -1 } } }));
    await assert.rejects(open([tuned]), (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /settings\.tuned: interval/.test(error.message));
  });

  it('applies a section’s defaults to a box that has no section, and validates a stopped box’s update', async () => {
    const levels: number[] = [];
    const defaults = definePlugin({
      name: 'defaults',
      version: '1.0.0',
      core: '^1.0.0',
      config: z.strictObject({ level: z.number().int().max(5).default(2) }),
      setup: () => ({
        hooks: {
          validate: (context: HookContext) => {
            levels.push((context.config as { level: number }).level);
            if ((context.config as { level: number }).level === 4) throw new NsboxError('E_INVALID_CONFIG', 'level 4 is not available on this host');
          },
        },
      }),
    });
    const { manager } = await open([defaults]);
    const box = await manager.create({ name: 'def1', config: { rootfs: '/srv/def1' } });
    assert.equal(box.config.defaults, undefined, 'the stored config keeps only what was given');
    assert.deepEqual(levels, [2], 'the validate hook saw the default');
    await manager.update(box.id, { defaults: { level: 3 } });
    await manager.update(box.id, { defaults: null });
    assert.equal(manager.get(box.id).config.defaults, undefined);
    await assert.rejects(manager.update(box.id, { defaults: { level: 4 } }), /level 4/);
    assert.equal(manager.get(box.id).config.defaults, undefined);
  });

  it('gives a plugin a database of its own in its data dir: migrated once, kept across hosts, the box database out of reach', async () => {
    const steps = ['CREATE TABLE series_points (box TEXT NOT NULL, time INTEGER NOT NULL, value REAL NOT NULL)'];
    let db: PluginDatabase | undefined;
    const series = definePlugin({
      name: 'series',
      version: '1.0.0',
      core: '^1.0.0',
      deps: { databases: coreRefs.pluginDatabases },
      setup: ({ deps }) => {
        db = deps.databases.open('series', steps);
        return {};
      },
    });
    await open([series]);
    assert.equal(db?.path, join(stateDir, 'plugins', 'series', 'series.db'));
    db?.transaction(() => {
      db?.run('INSERT INTO series_points VALUES (?, ?, ?)', 'b1', 1, 0.5);
      db?.run('INSERT INTO series_points VALUES (?, ?, ?)', 'b1', 2, 1.5);
    });
    assert.throws(
      () =>
        db?.transaction(() => {
          db?.run('INSERT INTO series_points VALUES (?, ?, ?)', 'b1', 3, 9);
          throw new Error('half-way');
        }),
      /half-way/,
    );
    assert.throws(() => db?.all('SELECT * FROM boxes'), /no such table: boxes/, "the host's box tables are not in a plugin's database");
    assert.ok((db?.sizeBytes() ?? 0) > 0);
    host?.close();
    // A second host on the same state dir (a restart): the rows are there, the step is not run again.
    await open([series]);
    assert.deepEqual(db?.all<{ time: number; value: number }>('SELECT time, value FROM series_points ORDER BY time'), [
      { time: 1, value: 0.5 },
      { time: 2, value: 1.5 },
    ]);
    assert.throws(
      () => host?.plugins.get(coreRefs.pluginDatabases).open('../boxes', []),
      (error: NsboxError) => error.code === 'E_INVALID_ARGUMENT',
    );
  });
});

describe('the host API: rootfs layers (runtime-api rootfsLayers, the Linux driver)', function () {
  this.timeout(60_000);
  let stateDir: string;
  let templateDir: string;
  let cgroupParent: string;
  let host: NsboxHost | undefined;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-layers-state-'));
    templateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-layers-template-'));
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  });
  afterEach(async () => {
    if (host) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    host?.close();
    host = undefined;
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
    for (const point of mountsBelow(stateDir)) spawnSync('umount', ['-l', point]);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(templateDir, { recursive: true, force: true });
  });

  function mountsBelow(dir: string): string[] {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  }

  it('lets a plugin choose layers at provision, before the driver makes the rootfs: no copy, the overlay up from start to stop, destroy takes the upper only', async () => {
    const template = buildBusyboxRootfs(join(templateDir, 'rootfs'));
    writeFileSync(join(template, 'shared.txt'), 'from the layer\n');
    const seenAtProvision: unknown[] = [];
    const layering = definePlugin({
      name: 'layering',
      version: '1.0.0',
      core: '^1.0.0',
      deps: { layers: runtimeRefs.rootfsLayers },
      setup: ({ deps }) => ({
        hooks: {
          provision: async (context) => {
            seenAtProvision.push(runtimeFacts(context.box).rootfs);
            deps.layers.use(context.box, 'layering', [await deps.layers.templateLayer(context.box.config.template as string, context.operation)]);
          },
          rollback: (context, hook) => {
            if (hook === 'provision') deps.layers.release(context.box);
          },
        },
      }),
    });
    const driver = new LinuxBoxDriver({ stateDir, cgroupParent });
    host = await openHost({ stateDir, discover: false, driver, plugins: [layering] });
    const box = await host.manager.create({ name: 'layered', config: { template, process: { args: ['sleep', '100000'] } } });
    assert.deepEqual(seenAtProvision, [undefined], 'provision ran before the driver made a rootfs');
    const rootfs = runtimeFacts(box).rootfs as string;
    assert.deepEqual(readdirSync(rootfs).sort(), [OWN_UPPER, OWN_WORK], 'the driver copied nothing');
    const layer = driver.layers.of(box);
    assert.equal(layer?.owner, 'layering');
    assert.equal(layer?.lowers[0]?.template, template);

    await host.manager.start('layered');
    assert.equal(driver.layers.of(host.manager.get('layered'))?.mounted, true);
    assert.equal(readFileSync(join(rootfs, 'shared.txt'), 'utf8'), 'from the layer\n', 'the root shows the layer');
    writeFileSync(join(rootfs, 'shared.txt'), 'the box’s own\n');
    assert.equal(readFileSync(join(layer?.lowers[0]?.dir as string, 'shared.txt'), 'utf8'), 'from the layer\n', 'a write copies up');

    await host.manager.stop('layered', { timeoutMs: 0 });
    assert.deepEqual(mountsBelow(stateDir), [], 'stop took the overlay down');
    assert.equal(readFileSync(join(rootfs, OWN_UPPER, 'shared.txt'), 'utf8'), 'the box’s own\n', 'the write is in the upper');
    await host.manager.destroy('layered');
    assert.equal(existsSync(driver.boxDir(box)), false, 'destroy removed the upper');
    assert.equal(readFileSync(join(layer?.lowers[0]?.dir as string, 'shared.txt'), 'utf8'), 'from the layer\n', 'and kept the layer');
    assert.equal(driver.layers.versions()[0]?.boxes.length, 0);
  });

  it('refuses layers for a box on an admin rootfs, naming the field, and the create leaves nothing', async () => {
    const layering = definePlugin({
      name: 'layering',
      version: '1.0.0',
      core: '^1.0.0',
      deps: { layers: runtimeRefs.rootfsLayers },
      setup: ({ deps }) => ({
        hooks: { provision: (context) => void deps.layers.use(context.box, 'layering', []) },
      }),
    });
    const driver = new LinuxBoxDriver({ stateDir, cgroupParent });
    host = await openHost({ stateDir, discover: false, driver, plugins: [layering] });
    await assert.rejects(
      host.manager.create({ name: 'admin', config: { rootfs: templateDir } }),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && (error.details as { field?: string }).field === 'rootfs',
    );
    assert.deepEqual(host.manager.list(), []);
    assert.deepEqual(existsSync(driver.boxesDir) ? readdirSync(driver.boxesDir) : [], []);
  });
});
