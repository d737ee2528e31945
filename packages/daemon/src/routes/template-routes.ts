/** /templates: list the built-ins and the imported ones; import (an operation with progress); remove. */

import { NsboxError, z } from '@nsbox/core';
import type { DaemonContext } from '../context.js';
import { fieldError } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { importTemplateBody, operationView, removedView, templateRef, templateView, updateTemplateBody } from '../schemas/admin.js';

export function templateRoutes(context: DaemonContext): AnyRoute[] {
  const { templates } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/templates',
      summary: "Templates boxes can be made from: the built-ins and the imported ones (a tenant's: its own and the shared ones, without host paths)",
      tags: ['templates'],
      access: 'read-only',
      response: z.array(templateView),
      handler({ scope }) {
        return templates.list(scope.tenant);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/templates/:name',
      summary: 'A template the token may use',
      tags: ['templates'],
      access: 'read-only',
      params: templateRef,
      response: templateView,
      handler({ params, scope }) {
        const template = templates.list(scope.tenant).find((listed) => listed.name === params.name);
        if (!template) throw new NsboxError('E_NOT_FOUND', `no template named '${params.name}'`, { details: { template: params.name, field: 'name' } });
        return template;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/templates',
      summary: "Import a template (or build a built-in's cache): returns an operation with progress",
      tags: ['templates'],
      access: 'admin',
      hostWide: true,
      body: importTemplateBody,
      response: operationView,
      status: 202,
      handler({ body, reply }) {
        const builtin = templates.isBuiltin(body.source);
        const name = body.name ?? (builtin ? body.source : undefined);
        if (name === undefined) throw fieldError('E_INVALID_ARGUMENT', 'name', 'an imported template needs a name');
        if (!builtin && !body.source.startsWith('/')) {
          throw fieldError(
            'E_INVALID_ARGUMENT',
            'source',
            `source must be a built-in (${templates
              .list()
              .filter((t) => t.kind === 'builtin')
              .map((t) => t.name)
              .join(', ')}) or an absolute path`,
          );
        }
        if (!(builtin && name === body.source)) templates.assertFree(name);
        if (body.owner !== undefined && !context.tenants.find(body.owner)) throw fieldError('E_INVALID_ARGUMENT', 'owner', `no tenant named '${body.owner}'`);
        const operation = context.operations.start(
          {
            kind: 'template.import',
            description: builtin && name === body.source ? `build the ${name} template` : `import template ${name} from ${body.source}`,
            tenant: null,
            resources: { templates: [name] },
            input: { name, source: body.source },
          },
          ({ signal, progress }) =>
            templates.import(name, body.source, {
              signal,
              onProgress: progress,
              ...(body.owner !== undefined ? { owner: body.owner } : {}),
              ...(body.shared !== undefined ? { shared: body.shared } : {}),
            }),
        );
        reply.header('location', `/operations/${operation.id}`);
        return operation;
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/templates/:name',
      summary: 'Give an imported template to a tenant (owner; null: the host admin) or share it with every tenant',
      tags: ['templates'],
      access: 'admin',
      hostWide: true,
      params: templateRef,
      body: updateTemplateBody,
      response: templateView,
      handler({ params, body }) {
        if (typeof body.owner === 'string' && !context.tenants.find(body.owner))
          throw fieldError('E_INVALID_ARGUMENT', 'owner', `no tenant named '${body.owner}'`);
        return templates.update(params.name, {
          ...(body.owner !== undefined ? { owner: body.owner } : {}),
          ...(body.shared !== undefined ? { shared: body.shared } : {}),
        });
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/templates/:name',
      summary: 'Remove an imported template (boxes made from it keep their copy)',
      tags: ['templates'],
      access: 'admin',
      hostWide: true,
      params: templateRef,
      response: removedView,
      handler({ params }) {
        templates.remove(params.name);
        return { name: params.name, removed: true };
      },
    }),
  ];
}
