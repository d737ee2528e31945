/**
 * GET /events: a page of lifecycle and plugin events; GET /events/stream: server-sent events,
 * resumable from an id (?after=N or the Last-Event-ID header). Both filter by box, tenant and
 * kind; a tenant's token only ever gets its own boxes' events.
 */

import { NsboxError, type z } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { shownEvent } from '../boxes/box-names.js';
import type { DaemonContext } from '../context.js';
import type { FeedFilter } from '../events/event-feed.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { openSse } from '../http/sse.js';
import { eventsPage, eventsQuery } from '../schemas/admin.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function filterFor(context: DaemonContext, scope: Scope, query: z.infer<typeof eventsQuery>): FeedFilter {
  const filter: FeedFilter = {};
  const tenant = scope.tenant ?? query.tenant;
  if (tenant !== undefined) filter.tenant = tenant;
  if (query.kind) filter.kind = query.kind;
  if (query.box) {
    const box = context.host.store.find(scope.storedName(query.box)) ?? context.host.store.find(query.box);
    if (box && scope.sees(box)) filter.boxId = box.id;
    // A box that is gone still has a history: its id names it.
    else if (!box && UUID.test(query.box)) filter.boxId = query.box;
    else throw new NsboxError('E_NOT_FOUND', `no box named '${query.box}'`, { details: { box: query.box, field: 'box' } });
  }
  return filter;
}

function lastEventId(header: unknown): number | undefined {
  if (typeof header !== 'string' || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

export function eventRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/events',
      summary: 'Events after an id (oldest first), filtered by box, tenant and kind',
      tags: ['events'],
      access: 'read-only',
      query: eventsQuery,
      response: eventsPage,
      handler({ query, scope }) {
        const page = context.events.page(filterFor(context, scope, query), query.after ?? 0, query.limit ?? 1000);
        return { ...page, events: page.events.map((event) => shownEvent(scope.tenant, event)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/events/stream',
      summary: 'Live events as server-sent events (event: box, id: the event id), resumable with Last-Event-ID or ?after',
      tags: ['events'],
      access: 'read-only',
      query: eventsQuery,
      produces: 'sse',
      async handler({ query, scope, request, reply }) {
        const filter = filterFor(context, scope, query);
        const after = query.after ?? lastEventId(request.headers['last-event-id']) ?? context.events.latestId();
        const stream = openSse(request, reply);
        // Where this stream starts: a client that asked for "from now" resumes from here.
        stream.send('ready', { after });
        await context.events.follow(filter, after, (event) => stream.send('box', shownEvent(scope.tenant, event), event.id), stream.signal);
        stream.close();
        return reply;
      },
    }),
  ];
}
