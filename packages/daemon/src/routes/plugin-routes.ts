/**
 * GET /plugins (installed plugins and versions), GET /plugins/{name} (with the JSON schema of
 * its config section and its routes), and the routes plugins contribute, mounted under
 * /plugins/{name}: validated with the plugin's schemas, checked for role and tenant. A tenant's
 * call that changes boxes through the BoxManager service meets the tenant policy there.
 */

import { type AnyPlugin, CORE_API_VERSION, CoreTokens, NsboxError, type RouteContribution, z } from '@nsbox/core';
import type { DaemonContext } from '../context.js';
import { pluginConfigJsonSchema } from '../http/openapi.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { pluginDetailsView, pluginRef, pluginView } from '../schemas/admin.js';
import { tenantBoxManager } from '../tenancy/tenant-box-manager.js';

function contributed(context: DaemonContext, plugin: AnyPlugin, contribution: RouteContribution): AnyRoute {
  const path = contribution.path.startsWith('/') ? contribution.path : `/${contribution.path}`;
  return {
    method: contribution.method,
    url: `/plugins/${plugin.name}${path === '/' ? '' : path}`,
    summary: contribution.summary,
    tags: [`plugin: ${plugin.name}`],
    access: contribution.role ?? (contribution.method === 'GET' ? 'read-only' : 'operator'),
    plugin: plugin.name,
    ...(contribution.params ? { params: contribution.params } : {}),
    ...(contribution.query ? { query: contribution.query } : {}),
    ...(contribution.body ? { body: contribution.body } : {}),
    handler: ({ params, query, body, scope }) =>
      contribution.handler({
        params,
        query,
        body,
        tenant: scope.tenant,
        box: (idOrName) => scope.box(idOrName),
        // A tenant's call reaches boxes through a manager that applies its scope and policy.
        services: { get: (id) => (id === CoreTokens.BoxManager ? tenantBoxManager(context, scope) : context.host.plugins.get(id)) as never },
      }),
  } as AnyRoute;
}

export function pluginRoutes(context: DaemonContext): AnyRoute[] {
  const plugins = context.host.plugins;
  const contributions = plugins.plugins.flatMap(({ definition }) => (definition.routes ?? []).map((route) => contributed(context, definition, route)));
  return [
    defineRoute({
      method: 'GET',
      url: '/plugins',
      summary: 'Installed plugins: versions, the core range each was written for, dependencies, enabled',
      tags: ['plugins'],
      access: 'read-only',
      response: z.array(pluginView),
      handler() {
        return plugins.describe();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/plugins/:name',
      summary: 'A plugin, with the JSON schema of its config section and the routes it adds',
      tags: ['plugins'],
      access: 'read-only',
      params: pluginRef,
      response: pluginDetailsView,
      handler({ params }) {
        const info = plugins.describe().find((plugin) => plugin.name === params.name);
        const definition = plugins.plugins.find((loaded) => loaded.definition.name === params.name)?.definition;
        if (!info) throw new NsboxError('E_NOT_FOUND', `no plugin named '${params.name}'`, { details: { plugin: params.name, field: 'name' } });
        return {
          ...info,
          coreApi: CORE_API_VERSION,
          configSchema: definition ? pluginConfigJsonSchema(definition) : null,
          routes: contributions.filter((route) => route.plugin === params.name).map((route) => `${route.method} ${route.url}`),
        };
      },
    }),
    ...contributions,
  ];
}
