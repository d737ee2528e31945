/**
 * The limits section as runtime resources, and the checks made before any box is touched
 * (against a described host: the runtime's ResourceHost on a given layout).
 */

import assert from 'node:assert/strict';
import { ResourceHost } from '@nsbox/runtime';
import type { BoxResources, CgroupLayout, CgroupManager } from '@nsbox/runtime-api';
import { CgroupLimits, limitsDefaults, limitsResources } from './cgroup-limits.js';
import { HostFacts } from './host-facts.js';
import { hostProblems } from './limits-checks.js';

const MiB = 2 ** 20;

describe('limits: the section as resources of the owner limits', () => {
  it('maps each field to its knob, io devices resolved to major:minor', () => {
    assert.deepEqual(
      limitsResources(
        {
          cpus: 1.5,
          cpuWeight: 200,
          cpuset: '0-1',
          cpusetMems: '0',
          memory: 512 * MiB,
          memoryHigh: 256 * MiB,
          swap: 128 * MiB,
          pids: 200,
          io: [
            { device: '/dev/vdb', writeBps: 10 * MiB, readIops: 500 },
            { device: '/dev/unresolved', readBps: 1 },
          ],
        },
        new Map([['/dev/vdb', '254:16']]),
      ),
      {
        cpu: { quota: 150_000, period: 100_000, weight: 200, cpus: '0-1', mems: '0' },
        memory: { max: 512 * MiB, high: 256 * MiB, swap: 128 * MiB },
        pids: { max: 200 },
        io: { throttle: [{ device: '254:16', writeBps: 10 * MiB, readIops: 500 }] },
      } satisfies BoxResources,
    );
    assert.deepEqual(limitsResources({ rlimits: {}, disk: 64 * MiB }, new Map()), {}, 'fields without a cgroup knob declare nothing');
  });

  it('defaults: the host default pids limit, and no swap for a memory limit that says none', () => {
    const all = () => true;
    assert.deepEqual(limitsDefaults({ memory: 64 * MiB }, 4096, all), { pids: { max: 4096 }, memory: { swap: 0 } });
    assert.deepEqual(limitsDefaults({ memory: 64 * MiB, swap: 32 * MiB, pids: 10 }, 4096, all), undefined, 'the section says both');
    assert.deepEqual(limitsDefaults({}, null, all), undefined, 'no memory limit, no swap limit');
    const v1WithoutSwapAccounting = new ResourceHost({ kind: 'v1', v1: { memory: '/nonexistent', pids: '/nonexistent' }, unifiedControllers: [] });
    assert.deepEqual(
      limitsDefaults({ memory: 64 * MiB }, 4096, (resources) => v1WithoutSwapAccounting.check(resources).length === 0),
      { pids: { max: 4096 } },
      'no swap default where the kernel does not account swap (no memory.memsw.* files)',
    );
  });
});

/** Limits on a host described by a layout: the runtime's own checks, no box and no write. */
function hostWith(layout: CgroupLayout): CgroupLimits {
  const host = new ResourceHost(layout);
  const manager = { check: (resources: BoxResources) => host.check(resources) } as CgroupManager;
  return new CgroupLimits(manager, undefined);
}

class TwoCpuHost extends HostFacts {
  override onlineCpus(): number[] {
    return [0, 1];
  }
  override hasCapability(): boolean {
    return false;
  }
  override rlimitCeilings() {
    return { nofile: { soft: 20_000, hard: 20_000 }, core: { soft: 0, hard: 'unlimited' as const } };
  }
}

describe('limits: checks against the host', () => {
  const v2 = hostWith({ kind: 'v2', v1: {}, unified: '/nonexistent', unifiedControllers: ['cpu', 'memory', 'pids'] });

  it('refuses what the host cannot enforce, saying why', () => {
    const problems = hostProblems(
      { cpuset: '0-7', cpus: 4, rlimits: { nofile: { soft: 1, hard: 30_000 }, core: { soft: 0, hard: 'unlimited' } } },
      new TwoCpuHost(),
      v2,
    );
    assert.deepEqual(
      problems.map((problem) => `${problem.kind} ${problem.field}: ${problem.message}`),
      [
        'invalid limits.cpuset: CPU 2-7 does not exist on this host (it has 0-1)',
        'invalid limits.cpus: 4 is more CPUs than this host has (2)',
        "invalid limits.rlimits.nofile: hard limit 30000 is above this host's ceiling of 20000: raising a hard limit needs CAP_SYS_RESOURCE, which root lacks here",
        // /nonexistent has no cgroup.subtree_control: the host delegates nothing there.
        'unsupported limits.cpus: cannot be enforced: the cpu controller is on /nonexistent but the host does not delegate it (not in /nonexistent/cgroup.subtree_control)',
        'unsupported limits.cpuset: cannot be enforced: this host has no cpuset cgroup controller for boxes (mounted: cpu (v2), memory (v2), pids (v2))',
      ],
    );
    assert.deepEqual(
      hostProblems({ io: [{ device: '/dev/nsbox-test-none', writeBps: 1 }] }, new TwoCpuHost(), v2).map((problem) => problem.message),
      ['/dev/nsbox-test-none is not a block device on this host'],
      'an unknown device is named once: it has no throttle to check',
    );
  });

  it('refuses swap without memory on cgroup v1, where memsw counts both', () => {
    const v1 = hostWith({ kind: 'v1', v1: { memory: '/nonexistent' }, unifiedControllers: [] });
    assert.deepEqual(
      hostProblems({ swap: 0 }, new TwoCpuHost(), v1).map((problem) => `${problem.field}: ${problem.message}`),
      ['limits.swap: cannot be enforced: cgroup v1 limits memory and swap together (memsw): memory.max must be set too'],
    );
  });
});
