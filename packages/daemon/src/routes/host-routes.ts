/** Host facts, health, the OpenAPI document, and config validation. */

import { CORE_API_VERSION, hostInfoPoint, hostPoolPoint } from '@nsbox/core';
import type { DaemonContext } from '../context.js';
import { hostInfo, type PluginPool } from '../host-info.js';
import { prefixFields } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { healthView, hostInfoView, validateConfigBody, validConfigView } from '../schemas/admin.js';

/** Pools of the host, from the host-pool contribution point (limits' disk-image pools...). */
function pluginPools(context: DaemonContext): { plugin: string; pools: PluginPool[] }[] {
  return context.host.plugins.contributions(hostPoolPoint).flatMap((contribution) => {
    try {
      return [{ plugin: contribution.plugin, pools: contribution.list() as PluginPool[] }];
    } catch {
      return [];
    }
  });
}

/** Each plugin's section of the host's facts; one that fails says why in its place. */
async function pluginSections(context: DaemonContext): Promise<Record<string, unknown>> {
  const sections: Record<string, unknown> = {};
  for (const contribution of context.host.plugins.contributions(hostInfoPoint)) {
    try {
      sections[contribution.section] = await contribution.describe();
    } catch (error) {
      sections[contribution.section] = { error: (error as Error).message };
    }
  }
  return sections;
}

export function hostRoutes(context: DaemonContext, openapi: () => unknown): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/health',
      summary: 'Liveness (no token needed)',
      tags: ['host'],
      access: 'public',
      response: healthView,
      handler() {
        return { status: 'ok', version: context.version };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document (no token needed)',
      tags: ['host'],
      access: 'public',
      handler() {
        return openapi();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/host',
      summary: 'The host: kernel and the features found, cgroup layout, storage pools, boxes by state, versions',
      tags: ['host'],
      access: 'read-only',
      hostWide: true,
      response: hostInfoView,
      async handler() {
        return {
          nsboxd: {
            version: context.version,
            coreApi: CORE_API_VERSION,
            pid: process.pid,
            startedAt: context.startedAt,
            operationsRunning: context.operations.runningCount(),
          },
          ...hostInfo({ stateDir: context.host.stateDir, cgroups: context.driver.cgroups, boxes: context.manager.list(), pluginPools: pluginPools(context) }),
          plugins: await pluginSections(context),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/config/validate',
      summary: "Validate a box config against the core and every installed plugin's section",
      tags: ['boxes'],
      access: 'read-only',
      audit: false,
      body: validateConfigBody,
      bodyDoc: { config: { $ref: '#/components/schemas/BoxConfig' } },
      response: validConfigView,
      async handler({ body }) {
        try {
          return { valid: true, config: await context.manager.validateConfig(body.config, body.name ?? 'config') };
        } catch (error) {
          throw prefixFields(error, 'config');
        }
      },
    }),
  ];
}
