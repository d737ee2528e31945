/**
 * A third-party plugin that adds API routes, as a hosting panel's vendor writes one. nsbox's
 * own plugins add no routes, so this is what exercises nsboxd's plugin routes (mounted under
 * /plugins/<name>, validated by the plugin's schemas, scoped to the caller's tenant). Its
 * route reports the memory limit that the real limits plugin wrote into the box's cgroup.
 */

import { type AnyPlugin, definePlugin, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';

export const ROUTE_PLUGIN = 'cgroup-report';

export function routePlugin(): AnyPlugin {
  return definePlugin({
    name: ROUTE_PLUGIN,
    version: '1.0.0',
    core: '^1.0.0',
    routes: [
      {
        method: 'GET',
        path: '/boxes/:box/memory',
        summary: "A box's memory limit as the kernel has it",
        params: z.strictObject({ box: z.string() }),
        handler({ params, box, services }) {
          const found = box((params as { box: string }).box);
          const cgroups = services.get(runtimeRefs.cgroups.token);
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
