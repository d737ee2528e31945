/**
 * tracking's answer to nsboxd's GET /boxes/:id/stats routes (the core's box-stats point): a
 * box's stats now, its history over a range, and a follow that hands over each new sample of
 * the box until it stops running.
 */

import type { BoxRepository, BoxStatsContribution } from '@nsbox/core';
import { statsView } from './stats-view.js';
import type { TrackingService } from './tracking-service.js';

export function statsContribution(tracking: TrackingService, boxes: BoxRepository): BoxStatsContribution {
  return {
    current: (box, name) => tracking.statsOf(box, name),
    history: (box, name, range) => ({ box: name, state: box.state, ...tracking.historyOf(box.id, range) }),
    async follow(box, name, onStats, signal) {
      let last = 0;
      while (!signal.aborted) {
        const now = boxes.find(box.id);
        if (now?.state !== 'running') return;
        const found = (await tracking.current([now])).get(box.id);
        if (!found) return; // its cgroup is gone: it stopped meanwhile
        if (found.sample.time > last && !signal.aborted) {
          last = found.sample.time;
          onStats(statsView(found.sample, now.state, name, found.previous));
        }
        await tracking.nextRound(signal);
      }
    },
  };
}
