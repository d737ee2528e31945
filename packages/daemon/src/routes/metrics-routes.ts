/**
 * `GET /metrics`: every metrics contribution (tracking's cgroup figures, network's interface
 * counters...) for the running boxes the caller may see, in Prometheus' text format. A token
 * is needed; a tenant's token sees its own boxes only, named as the tenant names them, and
 * every box sample carries `tenant`. A sample about a box the caller may not see is dropped.
 * What is written for each caller is kept (MetricsViews).
 */

import { z } from '@nsbox/core';
import type { DaemonContext } from '../context.js';
import { MetricsViews } from '../http/metrics-views.js';
import { PROMETHEUS_CONTENT_TYPE } from '../http/prometheus-text.js';
import { type AnyRoute, defineRoute } from '../http/route.js';

export function metricsRoutes(context: DaemonContext): AnyRoute[] {
  const views = new MetricsViews(context);
  return [
    defineRoute({
      method: 'GET',
      url: '/metrics',
      summary: 'Usage of the boxes the caller may see, in the Prometheus text exposition format',
      tags: ['host'],
      access: 'read-only',
      produces: 'text',
      response: z.string(),
      async handler({ scope, reply }) {
        const body = await views.scrape(scope.tenant);
        reply.type(PROMETHEUS_CONTENT_TYPE);
        return reply.send(body);
      },
    }),
  ];
}
