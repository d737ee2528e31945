/**
 * An operation action that nsboxd died in (a row left `running` by another process): at the
 * next start its plugin's `interrupted` says what became of it — done after all, or not and
 * why — and an action without one ends interrupted, with no claim that it was rolled back.
 */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type AnyPlugin, defineAction, definePlugin, z } from '@nsbox/core';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import Database from 'better-sqlite3';
import { startTestDaemon } from './daemon-fixture.js';

const asked: string[][] = [];

const long = (name: string, interrupted?: boolean) =>
  defineAction({
    name,
    description: `a long ${name}`,
    input: z.strictObject({ box: z.string() }),
    hostWide: true,
    operation: true,
    run: () => ({ done: true }),
    ...(interrupted
      ? {
          interrupted: async ({ boxes }: { boxes: string[] }) => {
            asked.push(boxes);
            await new Promise((resolve) => setTimeout(resolve, 200));
            return boxes[0] === 'went'
              ? { status: 'success' as const, result: { box: boxes[0], moved: true } }
              : { status: 'failure' as const, message: `${boxes[0]} stayed here`, details: { where: 'here' } };
          },
        }
      : {}),
  });

const plugin = definePlugin({ name: 'mover', version: '1.0.0', core: '^1.0.0', actions: [long('move', true), long('plain')] }) as AnyPlugin;

describe('nsboxd: operation actions a previous nsboxd died in', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'nsboxd');
  });

  it("ends each as its plugin says once it has answered, or as interrupted, never 'rolled back'", async () => {
    const nsboxd = await startTestDaemon(cleanup, { plugins: [plugin] });
    const db = new Database(join(nsboxd.stateDir, 'nsbox.db'));
    const insert = db.prepare(
      "INSERT INTO daemon_operations (id, kind, description, status, tenant, resources, input, pid, created_at, updated_at) VALUES (?, ?, ?, 'running', NULL, ?, '{}', 1, 0, 0)",
    );
    const ids = { went: randomUUID(), stayed: randomUUID(), plain: randomUUID() };
    insert.run(ids.went, 'action.mover.move', 'mover move', JSON.stringify({ boxes: ['went'] }));
    insert.run(ids.stayed, 'action.mover.move', 'mover move', JSON.stringify({ boxes: ['stayed'] }));
    insert.run(ids.plain, 'action.mover.plain', 'mover plain', JSON.stringify({ boxes: ['other'] }));
    db.close();
    await nsboxd.restart();

    const ended = async (id: string) => {
      for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 50))) {
        const operation = await nsboxd.client.operations.get(id);
        if (operation.status !== 'running') return operation;
      }
      throw new Error(`operation ${id} is still running`);
    };
    const went = await ended(ids.went);
    assert.deepEqual([went.status, went.result], ['success', { box: 'went', moved: true }]);
    const stayed = await ended(ids.stayed);
    assert.deepEqual([stayed.status, stayed.error?.message, stayed.error?.details], ['failure', 'stayed stayed here', { where: 'here', interrupted: true }]);
    const plain = await ended(ids.plain);
    assert.equal(plain.status, 'failure');
    assert.match(plain.error?.message ?? '', /nsboxd stopped before mover plain was done; what it had done is as it left it/);
    assert.doesNotMatch(plain.error?.message ?? '', /rolled back/);
    assert.deepEqual(asked.sort(), [['stayed'], ['went']], 'the plugin was asked with the boxes each operation named');
  });
});
