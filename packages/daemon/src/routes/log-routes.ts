/** A box's console output (followed until the box stops) and its history. */

import { z } from '@nsbox/core';
import { ScopedBoxApi } from '../boxes/scoped-box-api.js';
import type { DaemonContext } from '../context.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { boxEvent, historyQuery, logsQuery } from '../schemas/boxes.js';
import { boxRef } from '../schemas/common.js';

export function logRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/logs',
      summary: "A box's console output as text (?follow=true: keeps streaming until the box stops)",
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      query: logsQuery,
      produces: 'text',
      response: z.string(),
      async handler({ params, query, scope, request, reply }) {
        const api = new ScopedBoxApi(context, scope);
        reply.type('text/plain; charset=utf-8');
        if (!query.follow) return reply.send(await api.logs(params.id));
        // Missing (or another tenant's) box: a 404 before the stream starts.
        await scope.syncedBox(params.id);
        const controller = new AbortController();
        request.raw.on('close', () => controller.abort());
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
        try {
          for await (const chunk of api.followLogs(params.id, { signal: controller.signal, ...(query.tail ? { fromEnd: true } : {}) })) reply.raw.write(chunk);
        } finally {
          reply.raw.end();
        }
        return reply;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/history',
      summary: "A box's history: lifecycle and plugin events, oldest first",
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      query: historyQuery,
      response: z.array(boxEvent),
      handler({ params, query, scope }) {
        return new ScopedBoxApi(context, scope).history(params.id, query);
      },
    }),
  ];
}
