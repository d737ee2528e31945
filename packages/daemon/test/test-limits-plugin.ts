/**
 * A stand-in for the limits plugin (the real one is built alongside): a `limits` section with
 * memory and disk sizes, the memory limit written to the box's cgroup at start and live on
 * update, so tests can watch a live change reach the kernel and quotas can read sizes.
 */

import { type AnyPlugin, definePlugin, inject, injectable, z } from '@nsbox/core';
import { type CgroupDriver, RuntimeTokens } from '@nsbox/runtime';

export function testLimitsPlugin(): AnyPlugin {
  class Hooks {
    constructor(private readonly cgroups: CgroupDriver) {}
    started(context: { box: { id: string }; config: { memory?: number } | undefined }) {
      this.apply(context.box.id, context.config?.memory);
    }
    update(context: { box: { id: string }; config: { memory?: number } | undefined }) {
      this.apply(context.box.id, context.config?.memory);
    }
    private apply(box: string, memory: number | undefined) {
      const v2 = this.cgroups.layout.v1.memory === undefined;
      this.cgroups.write(box, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes', memory === undefined ? (v2 ? 'max' : '-1') : String(memory));
    }
  }
  injectable()(Hooks);
  inject(RuntimeTokens.CgroupDriver)(Hooks, undefined, 0);
  return definePlugin({
    name: 'limits',
    version: '0.0.0-test',
    core: '^1.0.0',
    config: z.strictObject({ memory: z.number().int().positive().optional(), disk: z.number().int().positive().optional() }),
    hooks: Hooks as never,
    // Routes of its own under /plugins/limits, as a plugin adds to the API.
    routes: [
      {
        method: 'GET',
        path: '/boxes/:box/memory',
        summary: "A box's memory limit as the kernel has it",
        params: z.strictObject({ box: z.string() }),
        handler({ params, box, services }) {
          const found = box((params as { box: string }).box);
          const cgroups = services.get<CgroupDriver>(RuntimeTokens.CgroupDriver);
          const v2 = cgroups.layout.v1.memory === undefined;
          return { box: found.name, limit: cgroups.read(found.id, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes').trim() };
        },
      },
      {
        method: 'POST',
        path: '/check',
        summary: 'Checks a memory size',
        body: z.strictObject({ memory: z.number().int().positive() }),
        handler: ({ body, tenant }) => ({ ok: true, memory: (body as { memory: number }).memory, tenant }),
      },
    ],
  });
}

/** For a host config that names this file. */
export const testLimits = testLimitsPlugin();
