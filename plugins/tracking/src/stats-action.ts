/**
 * `nsbox stats NAME [--since 1h]`, `nsbox stats --all`: a box's usage now (and its history),
 * or every box the caller may see. One action: also `GET /plugins/tracking/actions/stats`
 * and `client.actions.run('tracking', 'stats', ...)`. The caller's view of the host (a
 * tenant's token: its own boxes) is the BoxApi's, whichever face called.
 */

import { type Box, type BoxRepository, CoreTokens, defineAction, NsboxError, z } from '@nsbox/core';
import { DURATION, parseDuration } from './duration.js';
import { renderStats } from './render.js';
import { type BoxHistoryView, type BoxStatsView, historyRows, statsView } from './stats-view.js';
import { type TrackingService, trackingServiceId } from './tracking-service.js';

export interface StatsResult {
  /** One box: its stats now, and its history with `since`. */
  stats?: BoxStatsView & { history?: BoxHistoryView };
  /** `all`: every box the caller may see; a box that is not running has no figures. */
  boxes?: (Pick<BoxStatsView, 'box' | 'state'> & Partial<Omit<BoxStatsView, 'box' | 'state'>>)[];
}

const flag = z.union([z.boolean(), z.enum(['true', 'false'])]);

export const statsAction = defineAction({
  name: 'stats',
  description: "a box's CPU, memory, IO, processes and pressure now, and its history (--since); --all: every box",
  input: z.strictObject({
    box: z.string().min(1).optional().describe('the box (name or id)'),
    all: flag.optional().describe('every box the caller may see'),
    since: z.string().regex(DURATION, 'a duration such as 90s, 30m, 1h, 2d or 1w').optional().describe('history from this long ago'),
  }),
  readOnly: true,
  cli: {
    command: 'stats',
    arguments: [{ name: 'box', description: 'the box (name or id)' }],
    options: [
      { flags: '--all', description: 'every box' },
      { flags: '--since <duration>', description: 'history from this long ago (90s, 30m, 1h, 2d, 1w)' },
    ],
  },
  async run(input, { api, own }): Promise<StatsResult> {
    const all = input.all === true || input.all === 'true';
    if (all === (input.box !== undefined)) {
      throw new NsboxError('E_INVALID_ARGUMENT', all ? 'stats: give a box or --all, not both' : 'stats: name a box, or give --all', {
        details: { field: 'box' },
      });
    }
    const tracking = own<TrackingService>(trackingServiceId);
    const boxes = own<BoxRepository>(CoreTokens.BoxRepository);
    // The caller's view finds the box (a tenant: only its own); the stored one is what the cgroups know.
    const stored = (shown: Box) => boxes.find(shown.id) ?? shown;
    if (all) {
      const shown = await api.list();
      const current = await tracking.current(shown.filter((box) => box.state === 'running').map(stored));
      return {
        boxes: shown.map((box) => {
          const found = current.get(box.id);
          return found ? statsView(found.sample, box.state, box.name, found.previous) : { box: box.name, state: box.state };
        }),
      };
    }
    const shown = await api.get(input.box as string);
    const found = (await tracking.current(shown.state === 'running' ? [stored(shown)] : [])).get(shown.id);
    if (!found && input.since === undefined) {
      throw new NsboxError('E_INVALID_STATE', `box '${shown.name}' is ${shown.state}: it has no usage now (--since shows its history)`, {
        details: { box: shown.name, state: shown.state },
      });
    }
    const view: StatsResult['stats'] = found
      ? statsView(found.sample, shown.state, shown.name, found.previous)
      : ({ box: shown.name, state: shown.state } as BoxStatsView);
    if (input.since !== undefined) {
      const now = Date.now();
      const since = now - parseDuration(input.since);
      const { tier, step, points } = tracking.history.points(shown.id, { since }, now);
      view.history = { since: new Date(since).toISOString(), stepMs: step, tier: tier === 0 ? 'fine' : 'coarse', points: historyRows(points) };
    }
    return { stats: view };
  },
  render: renderStats,
});
