import assert from 'node:assert/strict';
import type { BoxApi } from '@nsbox/core';
import { NsboxError } from '@nsbox/core/light';
import type { CliContext } from './cli-context.js';
import run from './commands/box-run.js';

/** A BoxApi whose box has exited and whose stop is still being recorded for `busyFor` destroys. */
function exitedBox(busyFor: number) {
  const destroys: string[] = [];
  const api = {
    create: async () => ({}),
    followLogs: async function* () {},
    get: async () => ({ state: 'stopped', runtime: { lastExit: { exitCode: 7 } } }),
    destroy: async (name: string) => {
      destroys.push(name);
      if (destroys.length <= busyFor) throw new NsboxError('E_BUSY', 'box is busy: a stop operation is running in process 1');
      return { name, destroyed: true };
    },
  } as unknown as BoxApi;
  const context = { options: {}, boxOptions: [], api: async () => api } as unknown as CliContext;
  return { context, destroys };
}

describe('nsbox run --rm', () => {
  it('destroys the box once its stop is recorded, when the first destroys find it busy', async () => {
    const { context, destroys } = exitedBox(2);
    const result = await run.run(context, ['one-shot', '/bin/true'], { rm: true, rootfs: '/r' });
    assert.deepEqual(result, { name: 'one-shot', exitCode: 7, exit: { exitCode: 7 }, state: 'stopped' });
    assert.deepEqual(destroys, ['one-shot', 'one-shot', 'one-shot']);
  });

  it('reports any other refusal of the destroy at once', async () => {
    const { context, destroys } = exitedBox(0);
    const failing = { ...context, api: async () => ({ ...(await context.api()), destroy: async () => Promise.reject(new NsboxError('E_NOT_FOUND', 'gone')) }) };
    await assert.rejects(async () => run.run(failing as unknown as CliContext, ['one-shot', '/bin/true'], { rm: true, rootfs: '/r' }), /gone/);
    assert.deepEqual(destroys, []);
  });
});
