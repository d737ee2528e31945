/**
 * `GET /metrics`: every metrics contribution (tracking's cgroup figures, network's interface
 * counters...) for the running boxes the caller may see, in Prometheus' text format. A token
 * is needed; a tenant's token sees its own boxes only, named as the tenant names them, and
 * every box sample carries `tenant`. A sample about a box the caller may not see is dropped.
 */

import { type Box, type MetricSample, metricsPoint, z } from '@nsbox/core';
import { shownBoxName } from '../boxes/box-names.js';
import type { DaemonContext } from '../context.js';
import { exposition, PROMETHEUS_CONTENT_TYPE } from '../http/prometheus-text.js';
import { type AnyRoute, defineRoute } from '../http/route.js';

export function metricsRoutes(context: DaemonContext): AnyRoute[] {
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
        const visible = context.manager.list().filter((box) => scope.sees(box));
        const running = visible.filter((box) => box.state === 'running');
        const byName = new Map(running.map((box) => [box.name, box]));
        const samples: MetricSample[] = [];
        for (const state of new Set(visible.map((box) => box.state))) {
          samples.push({
            name: 'nsbox_boxes',
            help: 'boxes by state',
            type: 'gauge',
            labels: { state },
            value: visible.filter((box) => box.state === state).length,
          });
        }
        for (const contribution of context.host.plugins.contributions(metricsPoint)) {
          let collected: MetricSample[];
          try {
            collected = running.length ? await contribution.collect(running) : [];
          } catch {
            continue; // one plugin's failure does not empty the scrape
          }
          for (const sample of collected) {
            const box: Box | undefined = sample.labels['box'] === undefined ? undefined : byName.get(sample.labels['box']);
            if (!box) continue;
            samples.push({ ...sample, labels: { ...sample.labels, box: shownBoxName(scope.tenant, box.name), tenant: box.owner ?? '' } });
          }
        }
        reply.type(PROMETHEUS_CONTENT_TYPE);
        return reply.send(exposition(samples));
      },
    }),
  ];
}
