/** linux.resources as the resources of the owner oci (pure translation; what the host can do is the runtime's check). */

import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import { translateResources } from './resources.js';

const MiB = 2 ** 20;

describe('nsbox-runc: linux.resources for the cgroup manager', () => {
  it('translates every field runc applies, naming where each knob came from', () => {
    const translated = translateResources({
      memory: { limit: 64 * MiB, reservation: 32 * MiB, swap: 96 * MiB, disableOOMKiller: true, kernel: 16 * MiB },
      cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0', mems: '0', realtimeRuntime: 10_000, realtimePeriod: 1_000_000 },
      pids: { limit: 40 },
      blockIO: { weight: 500, throttleWriteBpsDevice: [{ major: 7, minor: 0, rate: 4 * MiB }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 8 * MiB }],
      unified: { 'memory.oom.group': '1' },
      devices: [{ allow: false, access: 'rwm' }],
    });
    assert.deepEqual(translated.resources, {
      memory: { max: 64 * MiB, reservation: 32 * MiB, swap: 32 * MiB, oomKillDisable: true },
      cpu: { weight: 50, quota: 50_000, period: 100_000, cpus: '0', mems: '0', realtimeRuntime: 10_000, realtimePeriod: 1_000_000 },
      pids: { max: 40 },
      io: { weight: 4950, throttle: [{ device: '7:0', writeBps: 4 * MiB }] },
      hugetlb: { '2MB': 8 * MiB },
      unified: { 'memory.oom.group': '1' },
    });
    assert.deepEqual(translated.ignored, ['linux.resources.memory.kernel']);
    assert.equal(translated.fields['memory.oomKillDisable'], 'linux.resources.memory.disableOOMKiller');
    assert.equal(translated.fields['io.throttle[7:0].writeBps'], 'linux.resources.blockIO.throttleWriteBpsDevice[0]');
    assert.equal(translated.fields['hugetlb.2MB'], 'linux.resources.hugepageLimits[0]');
  });

  it('treats 0 and -1 as no limit, as runc does', () => {
    assert.deepEqual(translateResources({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1, shares: 0 }, pids: { limit: 0 } }).resources, {});
  });

  it('refuses what it does not apply and bad shapes, naming the field', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ memory: { swap: 10 } }, 'E_INVALID_CONFIG', /^linux\.resources\.memory\.swap: memory\+swap needs memory\.limit too$/],
      [{ memory: { limit: 100, swap: 50 } }, 'E_INVALID_CONFIG', /must be at least memory\.limit \(100\)/],
      [{ memory: { kernelTCP: 1 } }, 'E_UNSUPPORTED', /^linux\.resources\.memory\.kernelTCP is not supported/],
      [{ blockIO: { weight: 5 } }, 'E_INVALID_CONFIG', /^linux\.resources\.blockIO\.weight: 5 is outside 10-1000$/],
      [{ blockIO: { leafWeight: 100 } }, 'E_UNSUPPORTED', /leafWeight is not supported: leaf weights belonged to the CFQ scheduler/],
      [{ hugepageLimits: [{ limit: 1 }] }, 'E_INVALID_CONFIG', /hugepageLimits\[0\]: needs pageSize/],
      [{ rdma: { mlx: {} } }, 'E_UNSUPPORTED', /rdma is not supported/],
      [{ cpu: { bogus: 1 } }, 'E_UNSUPPORTED', /cpu\.bogus is not supported: nsbox-runc does not know this field/],
    ];
    for (const [resources, code, message] of cases) {
      assert.throws(
        () => translateResources(resources),
        (error: NsboxError) => error.code === code && message.test(error.message),
        JSON.stringify(resources),
      );
    }
  });
});
