/**
 * What this host's cgroups can do for resources: which flavour (v1, v2) serves each
 * controller for boxes, and the optional files a kernel may lack (memsw without swap
 * accounting, realtime without CONFIG_RT_GROUP_SCHED, IO weights without BFQ, huge page
 * sizes), so that a knob is refused with the kernel's reason before anything is written.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError } from '@nsbox/core';
import type { BoxResources, CgroupLayout, ResourceProblem } from '@nsbox/runtime-api';
import { knobsOf } from './resource-knobs.js';
import { mergeDeclarations } from './resource-merge.js';
import { type Flavor, type PlanContext, type PlannedWrite, planWrites, type ResourceController } from './resource-plan.js';
import { V1_CONTROLLERS } from './v1-driver.js';

const v1Name = (controller: ResourceController) => (controller === 'io' ? 'blkio' : controller);

function readWords(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** '2MB' → the kernel's pool directory name 'hugepages-2048kB'. */
function hugepageDir(size: string): string {
  const match = /^(\d+)([KMG])B$/.exec(size) as RegExpExecArray;
  const kb = Number(match[1]) * { K: 1, M: 1024, G: 1024 * 1024 }[match[2] as 'K' | 'M' | 'G'];
  return `/sys/kernel/mm/hugepages/hugepages-${kb}kB`;
}

export class ResourceHost {
  /** Whether boxes are placed in v1 hierarchies at all (a hybrid host served by cgroup2 alone is not). */
  private readonly usesV1: boolean;

  constructor(readonly layout: CgroupLayout) {
    this.usesV1 = layout.kind !== 'v2' && V1_CONTROLLERS.some((controller) => layout.v1[controller] !== undefined);
  }

  /** The flavour serving a controller for boxes here, as the drivers route writes. */
  flavor(controller: ResourceController): Flavor | undefined {
    const name = v1Name(controller);
    if (this.usesV1 && (V1_CONTROLLERS as readonly string[]).includes(name) && this.layout.v1[name] !== undefined) return 'v1';
    if (this.layout.unified !== undefined && this.layout.unifiedControllers.includes(controller)) return 'v2';
    return undefined;
  }

  mounted(): string {
    const names = [...Object.keys(this.layout.v1).map((name) => `${name} (v1)`), ...this.layout.unifiedControllers.map((name) => `${name} (v2)`)];
    return names.join(', ') || 'none';
  }

  /** Controllers the host delegates below the cgroup2 root (its cgroup.subtree_control). */
  private delegated(): string[] {
    return this.layout.unified === undefined ? [] : readWords(join(this.layout.unified, 'cgroup.subtree_control'));
  }

  /** Every CPU (memory node) online, in the kernel's list format: a v2 box's cpuset when nobody limits it. */
  onlineCpuset(file: 'cpuset.cpus' | 'cpuset.mems'): string {
    const list = file === 'cpuset.cpus' ? '/sys/devices/system/cpu/online' : '/sys/devices/system/node/online';
    // A kernel without NUMA has no node directory: node 0 is all there is.
    return readWords(list)[0] ?? '0';
  }

  /** The IO weight files a v1 hierarchy root shows (BFQ or CFQ); cgroup2 boxes have io.weight wherever io is delegated. */
  hostIoWeightFiles(): string[] {
    if (this.flavor('io') === 'v2') return ['io.weight'];
    const root = this.layout.v1['blkio'];
    return root === undefined ? [] : ['blkio.weight', 'blkio.bfq.weight'].filter((file) => existsSync(join(root, file)));
  }

  /** The context for planning without a box (check): cpuset resets do not matter there. */
  private checkContext(): PlanContext {
    return {
      flavor: (controller) => this.flavor(controller),
      mounted: () => this.mounted(),
      parentCpuset: () => '',
      ioWeightFiles: () => this.hostIoWeightFiles(),
    };
  }

  /** Why the kernel here would refuse a planned file (undefined: it has it, as far as can be told without a box). */
  fileProblem(planned: PlannedWrite): string | undefined {
    const v1Root = (controller: string) => this.layout.v1[controller];
    if (planned.controller === '') {
      if (this.layout.unified === undefined) return 'this host has no cgroup2 hierarchy for raw unified files';
      const controller = planned.file.split('.')[0] as string;
      if (controller !== 'cgroup' && !this.delegated().includes(controller)) {
        return `the ${controller} controller is not delegated on ${this.layout.unified} (its cgroup.subtree_control holds: ${this.delegated().join(' ') || 'nothing'})`;
      }
      return undefined;
    }
    if (planned.controller === 'hugetlb') {
      const size = /^hugetlb\.(\w+)\./.exec(planned.file)?.[1] as string;
      if (!existsSync(hugepageDir(size))) return `this kernel has no ${size} huge pages (no ${hugepageDir(size)})`;
    }
    const flavor = this.flavor(planned.controller === 'blkio' ? 'io' : (planned.controller as ResourceController));
    if (flavor === 'v2') {
      if (!this.delegated().includes(planned.controller)) {
        return `the ${planned.controller} controller is on ${this.layout.unified} but the host does not delegate it (not in ${this.layout.unified}/cgroup.subtree_control)`;
      }
      return undefined;
    }
    // Optional v1 files show at the hierarchy root when the kernel has them.
    const optional: Record<string, string> = {
      'memory.memsw.limit_in_bytes': 'the kernel does not account swap (no memory.memsw.* files: boot with swapaccount=1)',
      'cpu.rt_runtime_us': 'the kernel has no realtime group scheduling (no cpu.rt_runtime_us: CONFIG_RT_GROUP_SCHED is off)',
      'cpu.rt_period_us': 'the kernel has no realtime group scheduling (no cpu.rt_period_us: CONFIG_RT_GROUP_SCHED is off)',
    };
    const reason = optional[planned.file];
    const root = v1Root(planned.controller);
    if (reason && root !== undefined && !existsSync(join(root, planned.file))) return reason;
    return undefined;
  }

  /** What this host cannot enforce of `resources`, knob by knob. Bad values throw (E_INVALID_CONFIG). */
  check(resources: BoxResources): ResourceProblem[] {
    knobsOf(resources, 'check');
    const knobs = mergeDeclarations({ check: { resources } });
    const problems: ResourceProblem[] = [];
    for (const key of knobs.keys()) {
      try {
        for (const planned of planWrites(knobs, this.checkContext(), key)) {
          const reason = this.fileProblem(planned);
          if (reason) {
            problems.push({ knob: key, reason });
            break;
          }
        }
      } catch (error) {
        if (!isNsboxError(error) || error.code !== 'E_UNSUPPORTED') throw error;
        problems.push({ knob: key, reason: String(error.details['reason'] ?? error.message) });
      }
    }
    return problems;
  }
}
