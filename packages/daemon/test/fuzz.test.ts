/**
 * Fuzzing (fast-check): thousands of generated malformed requests and configs; every one
 * gets a 4xx JSON error naming the field, nsboxd stays up and the store does not change.
 * The long run is fuzz.slow-test.ts.
 */

import assert from 'node:assert/strict';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from './daemon-fixture.js';
import { fuzzDaemon } from './fuzz-support.js';

describe('nsboxd under fuzzed input', function () {
  this.timeout(300_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'nsboxd with real boxes');
  });

  it('answers 5000 malformed requests with 4xx errors that name the field, and changes nothing', async () => {
    const nsboxd = await startTestDaemon(cleanup);
    await (await nsboxd.client.boxes.create({ name: 'target', config: { template: 'busybox', process: { args: ['sleep', '1000'] } }, start: true })).wait();
    assert.equal(await fuzzDaemon(nsboxd, 5000), 5000);
    assert.equal((await nsboxd.client.boxes.get('target')).state, 'running');
  });
});
