/** The long crash run: nsboxd killed five times, each time during 100 concurrent operations. */

import { requireRoot, useCleanup } from '@nsbox/testkit';
import { crashSuite } from '../test/crash-support.js';

describe('nsboxd killed at random points, long run', function () {
  this.timeout(1_800_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'crashing nsboxd with real boxes');
  });

  beforeEach(function () {
    (this as unknown as { cleanup: typeof cleanup }).cleanup = cleanup;
  });

  it(
    'keeps boxes whole, adopts running ones and leaks nothing: 5 kills during 100 concurrent operations',
    crashSuite({ rounds: 5, operations: 100, seed: 4242 }),
  );
});
