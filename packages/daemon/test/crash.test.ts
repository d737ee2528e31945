/**
 * nsboxd, with the real isolation and limits plugins, killed with SIGKILL three times, each
 * time at a random moment while 40 concurrent operations are in flight (asserted from the
 * journal the dead process left), then restarted: boxes whole or absent, running boxes
 * adopted, operations settled, nothing leaked (uid ranges, disk images and loop devices
 * included). crash.slow-test.ts runs 100 operations per round, five rounds. A failed round
 * names its seed: NSBOX_CRASH_SEED=<that seed minus the round> replays the same operations
 * (where the kill lands still depends on the machine's timing). Then kills at exact steps of
 * the limits plugin's disk work.
 */

import { requireRoot, useCleanup } from '@nsbox/testkit';
import { crashSuite, killInsideDiskPrepare } from './crash-support.js';
import { killDuringCopyBack, killDuringCopyIntoImage } from './disk-copy-kills.js';

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
    'keeps boxes whole, adopts running ones and leaks nothing: 3 kills during 40 concurrent operations',
    crashSuite({ rounds: 3, operations: 40, seed: Number(process.env.NSBOX_CRASH_SEED ?? Date.now() % 100_000) }),
  );

  it('takes down the disk image a kill left half-made inside the limits plugin', killInsideDiskPrepare());

  it('makes a whole image at the next start after a kill during the copy of the seed into the first image', killDuringCopyIntoImage());

  it('never attaches an image twice after a kill during the copy back to the seed (the cp left running holds it)', killDuringCopyBack());
});
