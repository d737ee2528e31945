/** A box's console output (followed until the box stops) and its history. */

import { createReadStream, existsSync } from 'node:fs';
import { z } from '@nsbox/core';
import { followLog } from '@nsbox/runtime';
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
        const box = await scope.syncedBox(params.id);
        const file = context.driver.files(box).consoleLog;
        reply.type('text/plain; charset=utf-8');
        if (!query.follow) return existsSync(file) ? reply.send(createReadStream(file)) : reply.send('');
        const controller = new AbortController();
        request.raw.on('close', () => controller.abort());
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
        const running = box.state === 'running' || box.state === 'paused';
        await followLog(
          file,
          (chunk) => reply.raw.write(chunk),
          () => !running || context.driver.exit(box) !== undefined,
          { signal: controller.signal, intervalMs: 100, ...(query.tail ? { from: 'end' as const } : {}) },
        );
        reply.raw.end();
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
        const box = scope.box(params.id);
        const events = context.manager.history({
          boxId: box.id,
          ...(query.kind ? { kind: query.kind } : {}),
          ...(query.since !== undefined ? { since: query.since } : {}),
          ...(query.until !== undefined ? { until: query.until } : {}),
          ...(query.after !== undefined ? { afterId: query.after } : {}),
          limit: query.last !== undefined ? 1_000_000 : (query.limit ?? 1000),
        });
        return query.last !== undefined ? events.slice(-query.last) : events;
      },
    }),
  ];
}
