/** The merge rule of resource arbitration, owner against owner (pure: no cgroup). */

import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import type { ResourceDeclaration } from '@nsbox/runtime-api';
import { knobsOf } from './resource-knobs.js';
import { mergeDeclarations } from './resource-merge.js';

const MiB = 2 ** 20;

function merged(declarations: Record<string, ResourceDeclaration>) {
  return Object.fromEntries([...mergeDeclarations(declarations)].map(([key, knob]) => [key, { value: knob.value, ...knob.ownership }]));
}

describe('resource arbitration: the merge rule', () => {
  it('gives each ceiling the strictest owner value, naming that owner', () => {
    const result = merged({
      limits: { resources: { memory: { max: 512 * MiB, high: 256 * MiB }, pids: { max: 200 } } },
      pidcap: { resources: { pids: { max: 77 }, memory: { max: 1024 * MiB } } },
    });
    assert.deepEqual(result['memory.max'], { value: 512 * MiB, owners: ['limits'] });
    assert.deepEqual(result['pids.max'], { value: 77, owners: ['pidcap'] });
    assert.deepEqual(result['memory.high'], { value: 256 * MiB, owners: ['limits'] });
  });

  it('compares cpu quotas by their share of the period, keeping quota and period together', () => {
    // 50000/100000 = 0.5 CPU is stricter than 40000/50000 = 0.8 CPU, though its quota is larger.
    const result = merged({
      a: { resources: { cpu: { quota: 50_000, period: 100_000 } } },
      b: { resources: { cpu: { quota: 40_000, period: 50_000 } } },
      c: { resources: { cpu: { period: 20_000 } } },
    });
    assert.deepEqual(result['cpu.quota'], { value: { limit: 50_000, period: 100_000 }, owners: ['a'] });
  });

  it('intersects cpu sets, and refuses sets with nothing in common, naming both owners', () => {
    assert.deepEqual(merged({ a: { resources: { cpu: { cpus: '0-3' } } }, b: { resources: { cpu: { cpus: '2-5' } } } })['cpu.cpus'], {
      value: '2-3',
      owners: ['a', 'b'],
    });
    assert.deepEqual(merged({ a: { resources: { cpu: { cpus: '0-3' } } }, b: { resources: { cpu: { cpus: '1' } } } })['cpu.cpus'], {
      value: '1',
      owners: ['b'],
    });
    assert.throws(
      () => mergeDeclarations({ a: { resources: { cpu: { cpus: '0' } } }, b: { resources: { cpu: { cpus: '1' } } } }),
      (error: NsboxError) =>
        error.code === 'E_INVALID_CONFIG' && /cpu\.cpus is set by 'a' \(0\) and 'b' \(1\), which have nothing in common/.test(error.message),
    );
  });

  it('refuses a weight set by two owners, naming both, even at the same value', () => {
    for (const [first, second] of [
      [200, 50],
      [100, 100],
    ]) {
      assert.throws(
        () => mergeDeclarations({ limits: { resources: { cpu: { weight: first } } }, oci: { resources: { cpu: { weight: second } } } }),
        (error: NsboxError) => {
          assert.equal(error.code, 'E_INVALID_CONFIG');
          assert.equal(
            error.message,
            `resource cpu.weight is set by both 'limits' (${first}) and 'oci' (${second}): it has one owner, so one of them must leave it`,
          );
          assert.deepEqual(error.details['owners'], ['limits', 'oci']);
          return true;
        },
      );
    }
    assert.throws(() => mergeDeclarations({ a: { resources: { io: { weight: 10 } } }, b: { resources: { io: { weight: 20 } } } }), /io\.weight is set by both/);
  });

  it('lets defaults hold only where no owner sets the knob firmly', () => {
    const limits: ResourceDeclaration = { resources: { memory: { max: 64 * MiB } }, defaults: { pids: { max: 4096 } } };
    assert.deepEqual(merged({ limits })['pids.max'], { value: 4096, owners: ['limits'], defaulted: true });
    // A firm value wins even when it is looser than the default: the default is not a cap.
    assert.deepEqual(merged({ limits, oci: { resources: { pids: { max: 10_000 } } } })['pids.max'], { value: 10_000, owners: ['oci'] });
    assert.deepEqual(merged({ limits, oci: { resources: { pids: { max: 40 } } } })['pids.max'], { value: 40, owners: ['oci'] });
  });

  it('merges per device and per throttle direction', () => {
    const result = merged({
      a: { resources: { io: { throttle: [{ device: '254:0', readBps: 10 * MiB, writeBps: 4 * MiB }] } } },
      b: { resources: { io: { throttle: [{ device: '254:0', writeBps: 8 * MiB, readIops: 500 }] } } },
    });
    assert.deepEqual(result['io.throttle[254:0].readBps'], { value: 10 * MiB, owners: ['a'] });
    assert.deepEqual(result['io.throttle[254:0].writeBps'], { value: 4 * MiB, owners: ['a'] });
    assert.deepEqual(result['io.throttle[254:0].readIops'], { value: 500, owners: ['b'] });
  });

  it('refuses bad values naming the knob and the owner', () => {
    const cases: [Parameters<typeof knobsOf>[0], RegExp][] = [
      [{ memory: { max: -1 } }, /^resources of 'x': memory\.max must be a whole number from 1/],
      [{ cpu: { weight: 20_000 } }, /cpu\.weight must be a whole number from 1 to 10000/],
      [{ cpu: { cpus: '3-1' } }, /cpu\.cpus '3-1' in '3-1' is a range that runs backwards/],
      [{ io: { throttle: [{ device: '/dev/vda', readBps: 1 }] } }, /io\.throttle\[0\]\.device must be 'major:minor'/],
      [{ hugetlb: { huge: 1 } }, /hugetlb\.huge is not a page size/],
      [{ unified: { '../memory.max': '1' } }, /unified\.\.\.\/memory\.max is not a cgroup2 file name/],
      [{ unified: { 'cgroup.procs': '1' } }, /unified\.cgroup\.procs decides who is in the cgroup/],
      [{ cpu: { realtimeRuntime: 2_000_000, realtimePeriod: 1_000_000 } }, /cpu\.realtimeRuntime 2000000 is longer than its period/],
    ];
    for (const [resources, message] of cases) {
      assert.throws(
        () => knobsOf(resources, 'x'),
        (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && message.test(error.message),
        JSON.stringify(resources),
      );
    }
  });
});
