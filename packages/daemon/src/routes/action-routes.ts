/**
 * Plugins' actions over HTTP: GET /actions lists them; each is a route of its own,
 * `POST /plugins/<plugin>/actions/<action>` (GET, input in the query string, when it only
 * reads), documented in OpenAPI with its input schema. The action runs through the caller's
 * ScopedBoxApi: its role and host-wide rule, its box within the caller's tenant, its changes
 * judged by the tenant policy and quotas; a POST is audited with the box it names.
 */

import { type AnyAction, describeAction, operationContext, z } from '@nsbox/core';
import { allActions } from '@nsbox/host';
import { ScopedBoxApi } from '../boxes/scoped-box-api.js';
import type { DaemonContext } from '../context.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { actionInfoView } from '../schemas/admin.js';

function actionRoute(context: DaemonContext, plugin: string, action: AnyAction): AnyRoute {
  const info = describeAction(plugin, action);
  return {
    method: info.method,
    url: info.path,
    summary: action.description,
    description: `Action '${action.name}' of plugin ${plugin}: also \`nsbox ${info.command}\` and client.actions.run('${plugin}', '${action.name}', input).${
      info.box ? ' The input names the box in `box`.' : ''
    }`,
    tags: [`plugin: ${plugin}`],
    access: info.role,
    ...(info.hostWide ? { hostWide: true } : {}),
    plugin,
    ...(info.readOnly ? { query: action.input, audit: false } : { body: action.input }),
    // The BoxApi validates the input, as it does for the CLI: one message for every face.
    validates: 'handler',
    auditBox: ({ body }) => {
      const box = (body as { box?: unknown } | undefined)?.box;
      return typeof box === 'string' ? box : undefined;
    },
    extensions: { 'x-nsbox-action': { plugin, action: action.name, box: info.box, readOnly: info.readOnly, command: info.command } },
    ...(info.operation
      ? {
          // Long work: 202 with the operation, its progress and cancel through /operations.
          status: 202,
          handler: ({ body, scope }) =>
            context.operations.start(
              {
                kind: `action.${plugin}.${action.name}`,
                description: `${plugin} ${action.name}`,
                tenant: scope.tenant,
                resources: { boxes: typeof (body as { box?: unknown })?.box === 'string' ? [(body as { box: string }).box] : [] },
                input: {},
              },
              ({ signal, progress }) =>
                new ScopedBoxApi(context, scope).runAction(plugin, action.name, body ?? {}, operationContext({ signal, onProgress: progress })),
            ),
        }
      : {
          handler: ({ query, body, scope }) => new ScopedBoxApi(context, scope).runAction(plugin, action.name, info.readOnly ? query : (body ?? {})),
        }),
  } as AnyRoute;
}

export function actionRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/actions',
      summary: "Every action of the enabled plugins: its route, its CLI command, whether it reads only (a tenant's token sees those it may run)",
      tags: ['plugins'],
      access: 'read-only',
      response: z.array(actionInfoView),
      handler: ({ scope }) => new ScopedBoxApi(context, scope).actions(),
    }),
    ...allActions(context.host.plugins).map(({ plugin, action }) => actionRoute(context, plugin.definition.name, action)),
  ];
}
