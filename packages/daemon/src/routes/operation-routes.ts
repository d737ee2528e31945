/** /operations: poll, wait for, watch (server-sent events) and cancel long operations. */

import { NsboxError, z } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import type { DaemonContext } from '../context.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { openSse } from '../http/sse.js';
import type { Operation } from '../ops/operation-manager.js';
import { listOperationsQuery, operationRef, operationView, waitQuery } from '../schemas/admin.js';

function visible(context: DaemonContext, scope: Scope, id: string): Operation {
  const operation = context.operations.get(id);
  if (!operation || (scope.tenant !== null && operation.tenant !== scope.tenant)) {
    throw new NsboxError('E_NOT_FOUND', `no operation ${id}`, { details: { operation: id, field: 'id' } });
  }
  return operation;
}

export function operationRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/operations',
      summary: 'Operations (running and recently ended)',
      tags: ['operations'],
      access: 'read-only',
      query: listOperationsQuery,
      response: z.array(operationView),
      handler({ query, scope }) {
        return context.operations.list({ ...(scope.tenant !== null ? { tenant: scope.tenant } : {}), ...(query.status ? { status: query.status } : {}) });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/operations/:id',
      summary: 'An operation: status, progress, result or error',
      tags: ['operations'],
      access: 'read-only',
      params: operationRef,
      response: operationView,
      handler({ params, scope }) {
        return visible(context, scope, params.id);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/operations/:id/wait',
      summary: 'The operation once it has ended, or as it is after ?timeout seconds (default 30)',
      tags: ['operations'],
      access: 'read-only',
      params: operationRef,
      query: waitQuery,
      response: operationView,
      async handler({ params, query, scope, request }) {
        visible(context, scope, params.id);
        const controller = new AbortController();
        request.raw.on('close', () => controller.abort());
        return context.operations.wait(params.id, (query.timeout ?? 30) * 1000, controller.signal);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/operations/:id/watch',
      summary:
        'The operation as server-sent events (event: operation): the last progress of each step it passed before the watch began, then every change, until it ends',
      tags: ['operations'],
      access: 'read-only',
      params: operationRef,
      produces: 'sse',
      async handler({ params, scope, request, reply }) {
        const operation = visible(context, scope, params.id);
        const stream = openSse(request, reply);
        // The steps it went through before this watch began, then where it is now.
        for (const step of context.operations.stepsOf(params.id).slice(0, -1)) stream.send('operation', { ...operation, progress: step });
        stream.send('operation', operation);
        if (operation.status !== 'running') {
          stream.close();
          return reply;
        }
        await new Promise<void>((resolve) => {
          const stop = context.operations.watch(params.id, (changed) => {
            stream.send('operation', changed);
            if (changed.status !== 'running') finish();
          });
          function finish() {
            stop();
            resolve();
          }
          stream.signal.addEventListener('abort', finish, { once: true });
          // It may have ended between the first read and the subscription.
          const now = context.operations.get(params.id);
          if (now && now.status !== 'running') {
            stream.send('operation', now);
            finish();
          }
        });
        stream.close();
        return reply;
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/operations/:id',
      summary: 'Cancel a running operation (it ends "cancelled" once what it did is rolled back)',
      tags: ['operations'],
      access: 'operator',
      params: operationRef,
      response: operationView,
      status: 202,
      handler({ params, scope }) {
        visible(context, scope, params.id);
        return context.operations.cancel(params.id);
      },
    }),
  ];
}
