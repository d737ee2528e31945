import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import { DEFAULT_PIDS, limitsHostSettings } from './host-settings.js';
import { adminCapProblems } from './limits-checks.js';
import { boxRlimits } from './rlimits.js';

describe("limits: the admin's host settings", () => {
  it('default to a pids limit for every box, no pids cap, and no real-time priority or raised nice level', () => {
    assert.deepEqual(limitsHostSettings(undefined), { defaultPids: DEFAULT_PIDS, maxPids: null, maxRlimits: { rtprio: 0, nice: 0 } });
    assert.deepEqual(limitsHostSettings({ isolation: { realtimeScheduling: true } }), limitsHostSettings({}), "another plugin's settings are not ours");
  });

  it("take the admin's values, each rlimit cap over the defaults", () => {
    assert.deepEqual(limitsHostSettings({ limits: { defaultPids: '2k', maxPids: 8192, maxRlimits: { nofile: 65536, rtprio: 10, memlock: '64M' } } }), {
      defaultPids: 2000,
      maxPids: 8192,
      maxRlimits: { rtprio: 10, nice: 0, nofile: 65536, memlock: 64 * 2 ** 20 },
    });
    assert.equal(limitsHostSettings({ limits: { defaultPids: null } }).defaultPids, null, 'the admin may turn the default off');
    assert.equal(limitsHostSettings({ limits: { maxRlimits: { rtprio: 'unlimited' } } }).maxRlimits.rtprio, 'unlimited');
  });

  it('refuse a bad value naming its field in the host config', () => {
    const refused = (settings: unknown): string => {
      let message = '';
      assert.throws(
        () => limitsHostSettings({ limits: settings }),
        (error: NsboxError) => {
          message = error.message;
          return error.code === 'E_INVALID_CONFIG';
        },
      );
      return message;
    };
    assert.match(refused({ maxRlimits: { files: 10 } }), /^host config: settings\.limits\.maxRlimits\.files: unknown rlimit 'files'/);
    assert.match(refused({ maxRlimits: { nofile: 'lots' } }), /settings\.limits\.maxRlimits\.nofile: 'lots' is not a count/);
    assert.match(refused({ defaultPids: 0 }), /settings\.limits\.defaultPids: must be at least 1/);
    assert.match(refused({ defaultPids: 10_000, maxPids: 5000 }), /settings\.limits\.defaultPids: the default must be a number at most maxPids \(5000\)/);
    assert.match(refused({ defaultPids: null, maxPids: 5000 }), /settings\.limits\.defaultPids: /);
    assert.match(refused({ pidsDefault: 5 }), /settings\.limits/);
  });
});

describe("limits: a box within the admin's caps", () => {
  const settings = limitsHostSettings({ limits: { maxPids: 8192, maxRlimits: { nofile: 4096 } } });

  it('refuses a pids limit or an rlimit above its cap as forbidden, naming the field', () => {
    assert.deepEqual(
      adminCapProblems(
        { pids: 10_000, rlimits: { rtprio: { soft: 0, hard: 50 }, nofile: { soft: 1024, hard: 'unlimited' }, core: { soft: 0, hard: 0 } } },
        settings,
      ).map((problem) => `${problem.kind} ${problem.field}: ${problem.message}`),
      [
        "forbidden limits.pids: 10000 is above the admin's cap of 8192 (settings.limits.maxPids in the host config)",
        "forbidden limits.rlimits.rtprio: hard limit 50 is above the admin's cap of 0 (settings.limits.maxRlimits.rtprio in the host config)",
        "forbidden limits.rlimits.nofile: hard limit unlimited is above the admin's cap of 4096 (settings.limits.maxRlimits.nofile in the host config)",
      ],
    );
    assert.deepEqual(adminCapProblems({ pids: 8192, rlimits: { nofile: { soft: 1024, hard: 4096 }, nice: { soft: 0, hard: 0 } } }, settings), []);
  });

  it("gives init every capped rlimit at most at its cap, keeping the box's own and the spec's", () => {
    const inherited = { nofile: { soft: 20_000, hard: 20_000 }, rtprio: { soft: 0, hard: 'unlimited' as const }, nice: { soft: 0, hard: 0 } };
    assert.deepEqual(boxRlimits(undefined, settings.maxRlimits, inherited), {
      rtprio: { soft: 0, hard: 0 },
      nice: { soft: 0, hard: 0 },
      nofile: { soft: 4096, hard: 4096 },
    });
    assert.deepEqual(
      boxRlimits({ nofile: { soft: 512, hard: 1024 } }, settings.maxRlimits, inherited, [{ type: 'RLIMIT_NICE', soft: 5, hard: 5 }]),
      { rtprio: { soft: 0, hard: 0 }, nofile: { soft: 512, hard: 1024 } },
      "the box's own value stands; an rlimit the OCI bundle sets is the bundle's",
    );
    assert.deepEqual(boxRlimits(undefined, { rtprio: 'unlimited' }, inherited), {}, 'a lifted cap leaves what init inherits');
    assert.deepEqual(boxRlimits(undefined, { rtprio: 0 }, {}), { rtprio: { soft: 0, hard: 0 } }, 'unknown inherited values: the cap itself');
  });
});
