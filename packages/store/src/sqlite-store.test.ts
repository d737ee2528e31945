import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Box, runtimeWithoutSpec } from '@nsbox/core';
import Database from 'better-sqlite3';
import { migrations } from './migrations.js';
import { SqliteStore } from './sqlite-store.js';
import { resolveStateDir } from './state-dir.js';

describe('SQLite store', () => {
  let dir: string;
  const stores: SqliteStore[] = [];
  const open = () => {
    const store = new SqliteStore({ stateDir: dir });
    stores.push(store);
    return store;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-store-'));
  });
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('chooses the state dir from --state-dir, then NSBOX_STATE_DIR, then /var/lib/nsbox', () => {
    assert.equal(resolveStateDir('/srv/a', { NSBOX_STATE_DIR: '/srv/b' }), '/srv/a');
    assert.equal(resolveStateDir(undefined, { NSBOX_STATE_DIR: '/srv/b' }), '/srv/b');
    assert.equal(resolveStateDir(undefined, {}), '/var/lib/nsbox');
  });

  it('uses WAL so that several processes share one database', () => {
    const store = open();
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  });

  it('opens a new state directory while another process is migrating it: waits, then uses the tables that one made', async function () {
    this.timeout(60_000);
    const migrationsModule = fileURLToPath(new URL('./migrations.ts', import.meta.url));
    // Another process (a CLI, nsboxd) opening the same new directory, caught inside its migration:
    // it holds the write lock for a second with the tables made and not yet committed.
    const script = `const { default: Database } = await import('better-sqlite3');
      const { migrations } = await import(${JSON.stringify(migrationsModule)});
      const db = new Database(${JSON.stringify(join(dir, 'nsbox.db'))});
      db.pragma('journal_mode = WAL');
      db.exec('BEGIN IMMEDIATE');
      for (const step of migrations) db.exec(step);
      db.pragma('user_version = ' + migrations.length);
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1000);`;
    const other = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    other.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => other.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      other.stdout.once('data', () => resolve());
      other.once('close', () => reject(new Error(`the migrating process ended before it held the lock: ${stderr}`)));
    });
    const store = open();
    assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
    assert.equal(store.list().length, 0, 'the tables the other process made are there');
    assert.equal(await exited, 0, stderr);
  });

  it('lets only one of two store handles claim a plugin state key', () => {
    const first = open().pluginState;
    const second = open().pluginState;
    assert.equal(first.claim('isolation', 'uid-range:1', 'box-a'), true);
    assert.equal(second.claim('isolation', 'uid-range:1', 'box-b'), false);
    assert.equal(second.get('isolation', 'uid-range:1'), 'box-a');
    second.delete('isolation', 'uid-range:1');
    assert.equal(second.claim('isolation', 'uid-range:1', 'box-b'), true);
    assert.deepEqual(first.list('isolation'), [{ key: 'uid-range:1', value: 'box-b' }]);
  });

  it('lists the keys of a namespace that start with a prefix, and only those', () => {
    const state = open().pluginState;
    const keys = [
      'box-a',
      'box-a/owner/limits',
      'box-a/owner/sharing',
      'box-ab/owner/limits',
      'box-b/applied',
      'box-a\u{10FFFF}x',
      'box-a/\u00e9',
      'a*b',
      'a*?[c]',
    ];
    for (const key of keys) state.set('runtime', key, key.length.toString());
    state.set('other', 'box-a/owner/limits', 'x');
    const prefixed = (prefix: string) => state.list('runtime', prefix).map((entry) => entry.key);
    assert.deepEqual(prefixed('box-a/'), ['box-a/owner/limits', 'box-a/owner/sharing', 'box-a/\u00e9']);
    assert.deepEqual(prefixed('box-a/owner/'), ['box-a/owner/limits', 'box-a/owner/sharing']);
    assert.deepEqual(prefixed('box-a'), keys.filter((key) => key.startsWith('box-a')).sort());
    assert.deepEqual(prefixed('box-c'), []);
    assert.deepEqual(prefixed('a*'), ['a*?[c]', 'a*b'], 'wildcards in a prefix are plain characters');
    assert.deepEqual(prefixed('a*?['), ['a*?[c]']);
    const plan = open().db.prepare('EXPLAIN QUERY PLAN SELECT key FROM plugin_state WHERE namespace = ? AND key GLOB ?').all('runtime', 'box-a/*');
    assert.match(JSON.stringify(plan), /namespace=\? AND key>\? AND key<\?/, 'the prefix is a range of the primary key');
    assert.equal(state.list('runtime').length, keys.length, 'without a prefix: the whole namespace');
  });

  it('gives boxes whose config and runtime read, copy, serialize and assign as plain properties', () => {
    const store = open();
    const box: Box = {
      id: 'b1',
      name: 'web',
      owner: null,
      config: { process: { args: ['/bin/sleep', '1'] } } as Box['config'],
      state: 'running',
      runtime: { spec: { root: { path: '/srv/web' } }, initPid: 42 },
      createdAt: 1,
      updatedAt: 2,
    };
    store.insert(box);
    const [listed] = store.list();
    assert.ok(listed);
    assert.deepEqual(listed, box);
    assert.deepEqual({ ...listed }, box);
    assert.deepEqual(JSON.parse(JSON.stringify(listed)), box);
    assert.equal(listed.runtime, listed.runtime, 'parsed once, the same object after');
    listed.runtime = { initPid: 7 };
    listed.state = 'stopped';
    store.update(listed);
    assert.deepEqual(store.find('web')?.runtime, { initPid: 7 });
    assert.equal(store.find('b1')?.state, 'stopped');
  });

  const specBox = (name: string, runtime: Box['runtime']): Box => ({
    id: `id-${name}`,
    name,
    owner: null,
    config: { process: { args: ['/bin/sleep', '1'] } } as Box['config'],
    state: 'running',
    runtime,
    createdAt: 1,
    updatedAt: 2,
  });
  const spec = { ociVersion: '1.0.2', linux: { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] } } };

  it('upgrades a database whose boxes keep their spec in the runtime facts: the spec moves to a table of its own, every box reads as before', () => {
    const path = join(dir, 'nsbox.db');
    const old = new Database(path);
    const specVersion = migrations.findIndex((step) => step.includes('CREATE TABLE box_specs'));
    assert.ok(specVersion > 0, 'the migration that adds the spec table');
    for (const step of migrations.slice(0, specVersion)) old.exec(step);
    old.pragma(`user_version = ${specVersion}`);
    const boxes = [
      specBox('started', { spec, init: { pid: 42 }, rootfs: '/srv/a' }),
      specBox('defined', {}),
      specBox('nulled', { spec: null, exit: { code: 0 } }),
    ];
    for (const box of boxes) {
      old
        .prepare('INSERT INTO boxes (id, name, owner, config, state, runtime, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(box.id, box.name, box.owner, JSON.stringify(box.config), box.state, JSON.stringify(box.runtime), box.createdAt, box.updatedAt);
    }
    old.close();

    const store = open();
    assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
    const rows = store.db.prepare('SELECT name, runtime, spec FROM boxes LEFT JOIN box_specs ON box_id = id ORDER BY name').all() as {
      name: string;
      runtime: string;
      spec: string | null;
    }[];
    assert.deepEqual(
      rows.map((row) => ({ name: row.name, runtime: JSON.parse(row.runtime), spec: row.spec === null ? null : JSON.parse(row.spec) })),
      [
        { name: 'defined', runtime: {}, spec: null },
        { name: 'nulled', runtime: { spec: null, exit: { code: 0 } }, spec: null },
        { name: 'started', runtime: { init: { pid: 42 }, rootfs: '/srv/a' }, spec },
      ],
    );
    for (const box of boxes) {
      assert.deepEqual(store.find(box.name), box, `${box.name} read alone`);
      assert.deepEqual(
        store.list().find((listed) => listed.name === box.name),
        box,
        `${box.name} listed`,
      );
    }
  });

  it('lists boxes without reading their spec; a listed box reads it when asked, and writes it back only when it was read or replaced', () => {
    const store = open();
    store.insert(specBox('web', { spec, init: { pid: 42 } }));
    // A spec that does not parse shows whether a listing parses it.
    store.db.prepare("UPDATE box_specs SET spec = '{not json' WHERE box_id = 'id-web'").run();
    const [listed] = store.list();
    assert.ok(listed);
    assert.deepEqual(runtimeWithoutSpec(listed.runtime), { init: { pid: 42 } }, 'the list view reads no spec');
    assert.deepEqual(Object.keys(listed.runtime), ['init', 'spec'], 'the spec is one of the runtime facts all the same');
    assert.throws(() => listed.runtime.spec, SyntaxError, 'read (and parsed) when asked for');

    store.db.prepare('UPDATE box_specs SET spec = ? WHERE box_id = ?').run(JSON.stringify(spec), 'id-web');
    const [stopped] = store.list();
    assert.ok(stopped);
    stopped.state = 'stopped';
    stopped.runtime = Object.assign(stopped.runtime, { exit: { code: 0 } });
    store.update(stopped);
    assert.deepEqual(store.find('web')?.runtime, { init: { pid: 42 }, spec, exit: { code: 0 } }, 'a spec nobody read is kept');

    const [changed] = store.list();
    assert.ok(changed);
    (changed.runtime.spec as typeof spec).ociVersion = '1.2.0';
    store.update(changed);
    assert.equal((store.find('web')?.runtime.spec as typeof spec | undefined)?.ociVersion, '1.2.0', 'a spec changed in place is written');

    const found = store.find('web');
    assert.ok(found);
    delete found.runtime.spec;
    store.update(found);
    assert.deepEqual(store.find('web')?.runtime, { init: { pid: 42 }, exit: { code: 0 } }, 'a spec deleted is gone');
    assert.deepEqual(store.db.prepare('SELECT count(*) AS specs FROM box_specs').get(), { specs: 0 });
    store.insert(specBox('db', { spec }));
    store.remove('id-db');
    assert.deepEqual(store.db.prepare('SELECT count(*) AS specs FROM box_specs').get(), { specs: 0 }, 'removed with its box');
  });

  it('migrates a namespace once, and refuses tables newer than the code', () => {
    const store = open();
    const steps = ['CREATE TABLE daemon_tenants (id TEXT PRIMARY KEY)'];
    assert.equal(store.migrateNamespace('daemon', steps), 1);
    assert.equal(open().migrateNamespace('daemon', steps), 1, 'a second process finds it done');
    assert.throws(() => store.migrateNamespace('daemon', []), /newer than this code/);
  });

  it('records operation steps in order and lists only unfinished operations', () => {
    const store = open();
    const op = store.begin({ boxId: 'b1', kind: 'start', fromState: 'created', pid: process.pid });
    store.stepDone(op.id, 'hook:a:prepare');
    store.stepDone(op.id, 'driver:start');
    assert.deepEqual(store.unfinished()[0]?.doneSteps, ['hook:a:prepare', 'driver:start']);
    store.finish(op.id, 'done');
    assert.deepEqual(store.unfinished(), []);
  });
});
