/** The long fuzz run: 20 000 malformed requests, several seeds. */

import assert from 'node:assert/strict';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from '../test/daemon-fixture.js';
import { fuzzDaemon } from '../test/fuzz-support.js';

describe('nsboxd under fuzzed input, long run', function () {
  this.timeout(1_800_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  it('answers 20 000 malformed requests with 4xx errors that name the field, and changes nothing', async () => {
    const nsboxd = await startTestDaemon(cleanup);
    await (await nsboxd.client.boxes.create({ name: 'target', config: { template: 'busybox', process: { args: ['sleep', '100000'] } }, start: true })).wait();
    let sent = 0;
    for (const seed of [1, 2, 3, 4]) sent += await fuzzDaemon(nsboxd, 5000, seed);
    assert.equal(sent, 20_000);
    assert.equal((await nsboxd.client.boxes.get('target')).state, 'running');
  });
});
