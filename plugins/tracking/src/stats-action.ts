/**
 * `nsbox stats NAME [--since 1h | --from T [--to T]]`, `nsbox stats --all`: a box's usage now (and its history),
 * or every box the caller may see. One action: also `GET /plugins/tracking/actions/stats`
 * and `client.actions.run('tracking', 'stats', ...)`. The caller's view of the host (a
 * tenant's token: its own boxes) is the BoxApi's, whichever face called.
 */

import { type Box, type BoxRepository, CoreTokens, defineAction, NsboxError, z } from '@nsbox/core';
import { DURATION } from './history-range.js';
import { renderStats } from './render.js';
import { type BoxHistoryView, type BoxStatsView, statsView } from './stats-view.js';
import { type TrackingService, trackingServiceId } from './tracking-service.js';

export interface StatsResult {
  /** One box: its stats now, and its history with `since` or `from`. */
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
    from: z.string().min(1).optional().describe('history from this time (ISO 8601 or epoch milliseconds)'),
    to: z.string().min(1).optional().describe('history up to this time (default: now)'),
  }),
  readOnly: true,
  cli: {
    command: 'stats',
    arguments: [{ name: 'box', description: 'the box (name or id)' }],
    options: [
      { flags: '--all', description: 'every box' },
      { flags: '--since <duration>', description: 'history from this long ago (90s, 30m, 1h, 2d, 1w)' },
      { flags: '--from <time>', description: 'history from this time (ISO 8601 or epoch milliseconds)' },
      { flags: '--to <time>', description: 'history up to this time (default: now)' },
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
      // Where the sampler runs (the resident agent, whose watcher keeps box states in line),
      // the stored states stand: no check of every box's processes, which cost most of a call.
      const shown = await api.list(tracking.sampling() ? { sync: false } : {});
      const current = await tracking.current(shown.filter((box) => box.state === 'running').map(stored));
      return {
        boxes: shown.map((box) => {
          const found = current.get(box.id);
          return found ? statsView(found.sample, box.state, box.name, found.previous) : { box: box.name, state: box.state };
        }),
      };
    }
    const shown = await api.get(input.box as string);
    const range = input.since ?? input.from ?? input.to;
    const found = (await tracking.current(shown.state === 'running' ? [stored(shown)] : [])).get(shown.id);
    if (!found && range === undefined) {
      throw new NsboxError('E_INVALID_STATE', `box '${shown.name}' is ${shown.state}: it has no usage now (--since shows its history)`, {
        details: { box: shown.name, state: shown.state },
      });
    }
    const view: StatsResult['stats'] = found
      ? statsView(found.sample, shown.state, shown.name, found.previous)
      : ({ box: shown.name, state: shown.state } as BoxStatsView);
    if (range !== undefined) view.history = tracking.historyOf(shown.id, { since: input.since, from: input.from, to: input.to });
    return { stats: view };
  },
  render: renderStats,
});
