/**
 * `GET /metrics`: every metrics contribution (tracking's cgroup figures, network's interface
 * counters...) for the running boxes the caller may see, in Prometheus' text format. A token
 * is needed; a tenant's token sees its own boxes only, named as the tenant names them, and
 * every box sample carries `tenant`. A sample about a box the caller may not see is dropped.
 */

import { type Box, type MetricSample, type MetricsContribution, metricsPoint, z } from '@nsbox/core';
import { shownBoxName } from '../boxes/box-names.js';
import type { DaemonContext } from '../context.js';
import { Exposition, type FamilyBlock, familyBlocks, labelText, PROMETHEUS_CONTENT_TYPE, sampleLine } from '../http/prometheus-text.js';
import { type AnyRoute, defineRoute } from '../http/route.js';

/** What a contribution gave last time, written out as one caller sees it. */
interface Written {
  samples: readonly MetricSample[];
  /** The running boxes it was written for (their names and tenants). */
  boxes: string;
  blocks: FamilyBlock[];
}

/** Callers (the host's, each tenant's) whose last scrapes are kept. */
const KEPT_VIEWERS = 16;

export function metricsRoutes(context: DaemonContext): AnyRoute[] {
  // A contribution that hands the same samples again (tracking's between two of its rounds,
  // as it may: MetricsContribution) is not written again for the same caller and boxes: a
  // thousand boxes are some 45,000 lines.
  const written = new Map<string | null, Map<MetricsContribution, Written>>();
  const keptFor = (viewer: string | null) => {
    let kept = written.get(viewer);
    if (!kept) {
      if (written.size >= KEPT_VIEWERS) written.delete(written.keys().next().value as string | null);
      kept = new Map();
      written.set(viewer, kept);
    }
    return kept;
  };
  // Samples share their labels objects (tracking's of one box): each is written once per
  // name it is shown under (the host's, its tenant's), not once per sample.
  const labelTexts = new WeakMap<Readonly<Record<string, string>>, { box: string; tenant: string; text: string }[]>();
  const labelsOf = (labels: Readonly<Record<string, string>>, box: string, tenant: string): string => {
    let known = labelTexts.get(labels);
    const hit = known?.find((entry) => entry.box === box && entry.tenant === tenant);
    if (hit) return hit.text;
    const text = labelText(labels, { box, tenant });
    if (!known) {
      known = [];
      labelTexts.set(labels, known);
    }
    if (known.length < 2) known.push({ box, tenant, text });
    return text;
  };
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
        const boxes = running.map((box) => `${box.name}/${box.owner ?? ''}`).join('\n');
        const out = new Exposition();
        const states = new Map<string, number>();
        for (const box of visible) states.set(box.state, (states.get(box.state) ?? 0) + 1);
        for (const block of familyBlocks(
          [...states].map(([state, count]) => ({ name: 'nsbox_boxes', help: 'boxes by state', type: 'gauge', labels: { state }, value: count })),
        ))
          out.add(block);
        const kept = keptFor(scope.tenant);
        for (const contribution of context.host.plugins.contributions(metricsPoint)) {
          let collected: MetricSample[];
          try {
            collected = running.length ? await contribution.collect(running) : [];
          } catch {
            continue; // one plugin's failure does not empty the scrape
          }
          let last = kept.get(contribution);
          if (!last || last.boxes !== boxes || !same(last.samples, collected)) {
            // A box's samples come one after the other with the same labels: looked up once.
            let labels: MetricSample['labels'] | undefined;
            let text: string | undefined;
            const lineOf = (sample: MetricSample) => {
              if (sample.labels !== labels) {
                labels = sample.labels;
                const box: Box | undefined = labels['box'] === undefined ? undefined : byName.get(labels['box']);
                text = box && labelsOf(labels, shownBoxName(scope.tenant, box.name), box.owner ?? '');
              }
              return text === undefined ? undefined : sampleLine(sample, text);
            };
            last = { samples: collected.slice(), boxes, blocks: familyBlocks(collected, lineOf) };
            kept.set(contribution, last);
          }
          for (const block of last.blocks) out.add(block);
        }
        reply.type(PROMETHEUS_CONTENT_TYPE);
        return reply.send(out.text());
      },
    }),
  ];
}

/** The same samples, the same objects in the same order. */
function same(before: readonly MetricSample[], now: readonly MetricSample[]): boolean {
  if (before.length !== now.length) return false;
  for (let index = 0; index < now.length; index++) if (before[index] !== now[index]) return false;
  return true;
}
