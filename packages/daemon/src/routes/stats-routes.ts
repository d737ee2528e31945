/**
 * A box's usage: GET /boxes/:id/stats (now), /stats/history (a range of its history) and
 * /stats/stream (server-sent events, one per sample). The figures come from the plugin that
 * contributes to the box-stats point (tracking); the route finds the box in the caller's
 * scope (another tenant's box is a 404) and names it as the caller does.
 */

import { type Box, type BoxStatsContribution, boxStatsPoint, NsboxError, z } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { shownBoxName } from '../boxes/box-names.js';
import type { DaemonContext } from '../context.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { openSse } from '../http/sse.js';
import { boxRef } from '../schemas/common.js';

const statsRange = z.strictObject({
  since: z.string().min(1).optional().describe('a span back from now: 90s, 30m, 1h, 2d, 1w'),
  from: z.string().min(1).optional().describe('an ISO 8601 time or milliseconds since the epoch'),
  to: z.string().min(1).optional().describe('an ISO 8601 time or milliseconds since the epoch (default: now)'),
});

const statsView = z.record(z.string(), z.unknown());

function contributor(context: DaemonContext): BoxStatsContribution {
  const found = context.host.plugins.contributions(boxStatsPoint)[0];
  if (!found) {
    throw new NsboxError('E_UNSUPPORTED', 'no plugin keeps box usage on this host (enable @nsbox/plugin-tracking)', { details: { point: boxStatsPoint.id } });
  }
  return found;
}

/** The box as the caller may see it (a 404 otherwise), with the name the caller gives it. */
async function visible(scope: Scope, idOrName: string): Promise<{ box: Box; name: string }> {
  const box = await scope.syncedBox(idOrName);
  return { box, name: shownBoxName(scope.tenant, box.name) };
}

export function statsRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/stats',
      summary: "A running box's usage now: CPU, memory by kind, IO, processes, open files, disk, pressure, other plugins' counters",
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      response: statsView,
      async handler({ params, scope }) {
        const { box, name } = await visible(scope, params.id);
        const stats = contributor(context);
        return stats.current(box, name);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/stats/history',
      summary: "A box's usage history over a range: ?since=1h, or ?from=&to= (ISO 8601 or epoch milliseconds)",
      description: 'Points of the fine tier while the range starts within its retention, else of the coarse tier; rates between neighbouring points.',
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      query: statsRange,
      response: statsView,
      async handler({ params, query, scope }) {
        const { box, name } = await visible(scope, params.id);
        const stats = contributor(context);
        return stats.history(box, name, query);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/stats/stream',
      summary: "A running box's usage as server-sent events: `stats` now and at each new sample, `end` (with the state) once it stops running",
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      produces: 'sse',
      async handler({ params, scope, request, reply }) {
        const { box, name } = await visible(scope, params.id);
        const stats = contributor(context);
        if (box.state !== 'running') {
          throw new NsboxError('E_INVALID_STATE', `box '${name}' is ${box.state}: it has no usage to follow`, { details: { box: name, state: box.state } });
        }
        const stream = openSse(request, reply);
        await stats.follow(box, name, (view) => stream.send('stats', view), stream.signal);
        if (!stream.signal.aborted) stream.send('end', { box: name, state: context.host.store.find(box.id)?.state ?? 'destroyed' });
        stream.close();
        return reply;
      },
    }),
  ];
}
