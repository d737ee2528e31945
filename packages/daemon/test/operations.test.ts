/**
 * Long operations as resources: a template import with progress that boxes are then made
 * from, cancellation that leaves nothing behind, and an operation that already ended.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxApiError, type Operation } from '@nsbox/client';
import { type AnyPlugin, defineAction, definePlugin, z } from '@nsbox/core';
import { buildBusyboxRootfs, makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from './daemon-fixture.js';

/** An operation whose first steps pass before its caller can watch it (the POST answers after them). */
const stepper = definePlugin({
  name: 'stepper',
  version: '1.0.0',
  core: '^1.0.0',
  actions: [
    defineAction({
      name: 'walk',
      description: 'goes through three steps',
      input: z.strictObject({}),
      hostWide: true,
      operation: true,
      async run(_input, { operation }) {
        operation.progress({ step: 'first', percent: 50 });
        operation.progress({ step: 'first', percent: 100 });
        operation.progress({ step: 'second' });
        await new Promise((resolve) => setTimeout(resolve, 500));
        operation.progress({ step: 'third' });
        return { walked: true };
      },
    }),
  ],
}) as AnyPlugin;

describe('nsboxd operations', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  it('imports a template with progress, makes a box from it, and removes it', async () => {
    const nsboxd = await startTestDaemon(cleanup);
    const work = makeTempDir(cleanup, 'template');
    buildBusyboxRootfs(join(work, 'rootfs'));
    const tarball = join(work, 'mini.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', join(work, 'rootfs'), '.']);

    const operation = await nsboxd.client.templates.import({ name: 'mini', source: tarball });
    const seen: Operation[] = [];
    const template = await operation.wait({ onProgress: (op) => seen.push(op) });
    assert.equal(template.name, 'mini');
    assert.equal(template.kind, 'imported');
    assert.ok(
      seen.some((op) => op.progress?.step === 'extract'),
      `progress of the extraction: ${seen.map((op) => op.progress?.step).join(',')}`,
    );
    assert.equal(seen.at(-1)?.status, 'success');
    assert.ok((await nsboxd.client.templates.list()).some((listed) => listed.name === 'mini'));

    const box = await (
      await nsboxd.client.boxes.create({ name: 'from-mini', config: { template: 'mini', process: { args: ['sleep', '100'] } }, start: true })
    ).wait();
    assert.equal(box.state, 'running');
    assert.equal((await nsboxd.client.boxes.exec('from-mini', { command: ['hostname'] })).stdout, 'from-mini\n');

    // A name in use, and a source that is not there, are refused at once.
    await assert.rejects(
      nsboxd.client.templates.import({ name: 'mini', source: tarball }),
      (error) => isNsboxApiError(error) && error.status === 409 && error.field === 'name',
    );
    await assert.rejects(nsboxd.client.templates.import({ name: 'busybox', source: tarball }), (error) => isNsboxApiError(error) && error.status === 409);
    const missing = await nsboxd.client.templates.import({ name: 'gone', source: join(work, 'missing.tar') });
    await assert.rejects(missing.wait(), (error) => isNsboxApiError(error) && error.code === 'E_NOT_FOUND');

    assert.deepEqual(await nsboxd.client.templates.remove('mini'), { name: 'mini', removed: true });
    assert.ok(!(await nsboxd.client.templates.list()).some((listed) => listed.name === 'mini'));
    assert.equal((await nsboxd.client.boxes.exec('from-mini', { command: ['true'] })).exitCode, 0, 'a box keeps its copy');
    assert.deepEqual(readdirSync(join(nsboxd.stateDir, 'images')), []);
  });

  it('shows a late watcher the steps an operation passed before it watched, each step at its last', async () => {
    const nsboxd = await startTestDaemon(cleanup, { plugins: [stepper] });
    const seen: { step: string; percent?: number }[] = [];
    const result = await nsboxd.client.actions.run('stepper', 'walk', {}, { onProgress: (progress) => seen.push(progress) });
    assert.deepEqual(result, { walked: true });
    assert.deepEqual(
      seen.map((progress) => progress.step).filter((step, index, all) => all[index - 1] !== step),
      ['first', 'second', 'third'],
    );
    assert.deepEqual(seen[0], { step: 'first', percent: 100 }, 'a passed step as it ended');
  });

  it('cancels a running import and a running create, leaving nothing behind', async () => {
    const nsboxd = await startTestDaemon(cleanup);
    const work = makeTempDir(cleanup, 'big');
    buildBusyboxRootfs(join(work, 'rootfs'));
    // A gigabyte of zeros compresses to almost nothing and takes a while to write out.
    execFileSync('sh', [
      '-c',
      `head -c 1500M /dev/zero > ${join(work, 'rootfs', 'big')} && tar -C ${join(work, 'rootfs')} --zstd -cf ${join(work, 'big.tar.zst')} . && rm ${join(work, 'rootfs', 'big')}`,
    ]);
    const source = join(work, 'big.tar.zst');

    const importing = await nsboxd.client.templates.import({ name: 'big', source });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await importing.cancel()).status, 'running', 'cancelling answers at once');
    await assert.rejects(importing.wait(), (error) => isNsboxApiError(error) && error.code === 'E_CANCELLED');
    assert.equal((await importing.refresh()).status, 'cancelled');
    assert.deepEqual(readdirSync(join(nsboxd.stateDir, 'images')), [], 'no half-imported template');

    const creating = await nsboxd.client.boxes.create({ name: 'big-box', config: { template: source }, start: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await nsboxd.client.operations.cancel(creating.id);
    await assert.rejects(creating.wait(), (error) => isNsboxApiError(error) && error.code === 'E_CANCELLED');
    assert.deepEqual(await nsboxd.client.boxes.list(), []);
    const boxes = join(nsboxd.stateDir, 'boxes');
    assert.deepEqual(existsSync(boxes) ? readdirSync(boxes) : [], [], 'no half-made box directory');

    // An operation that has ended cannot be cancelled.
    await assert.rejects(
      nsboxd.client.operations.cancel(creating.id),
      (error) => isNsboxApiError(error) && error.status === 409 && error.code === 'E_INVALID_STATE',
    );
    const listed = await nsboxd.client.operations.list({ status: 'cancelled' });
    assert.deepEqual(listed.map((operation) => operation.kind).sort(), ['box.create', 'template.import']);
  });
});
