/**
 * `nsbox top`: a live view of every box the caller may see, refreshed every `--interval`
 * seconds, like systemd-cgtop and vzstat. It polls the `stats --all` action through the
 * BoxApi (nsboxd with the caller's token when it runs). In a terminal: `q` (or Ctrl-C) quits,
 * c/m/p/n sort by CPU, memory, processes or name. Elsewhere (a pipe) it prints
 * `--iterations` frames one after the other.
 */

import { type CommandContribution, NsboxError } from '@nsbox/core';
import type { StatsResult } from './stats-action.js';
import { sortKeys, type TopSort, topRows, topScreen } from './top-view.js';

const CLEAR = '\x1b[H\x1b[2J';

function positive(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new NsboxError('E_INVALID_ARGUMENT', `${field} must be a positive number`, { details: { field } });
  return number;
}

export const topCommand: CommandContribution = {
  name: 'top',
  description: 'a live view of every box: CPU, memory, IO and network rates, processes (q quits)',
  options: [
    { flags: '--interval <seconds>', description: 'between two refreshes (default 2)' },
    { flags: '--iterations <n>', description: 'stop after this many refreshes' },
    { flags: '--sort <column>', description: 'cpu, memory, processes or name (default cpu)' },
  ],
  async run({ options, api }) {
    if (!api) throw new NsboxError('E_UNSUPPORTED', 'nsbox top needs a face with the BoxApi (the nsbox CLI)');
    const interval = positive(options['interval'], 'interval', 2) * 1000;
    const iterations = options['iterations'] === undefined ? Number.POSITIVE_INFINITY : positive(options['iterations'], 'iterations', 1);
    let sort = (options['sort'] ?? 'cpu') as TopSort;
    if (!Object.values(sortKeys).includes(sort)) {
      throw new NsboxError('E_INVALID_ARGUMENT', 'sort must be cpu, memory, processes or name', { details: { field: 'sort' } });
    }
    const boxes = await api();
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    let done = false;
    let wake: (() => void) | undefined;
    let frame = 0;
    let previous: { result: StatsResult; at: number } | undefined;
    const onKey = (data: Buffer) => {
      const key = data.toString('utf8');
      if (key === 'q' || key === '\x03') done = true;
      else if (sortKeys[key]) sort = sortKeys[key] as TopSort;
      wake?.();
    };
    if (tty) {
      process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', onKey);
      process.stdout.write('\x1b[?25l');
    }
    try {
      while (!done && frame < iterations) {
        const at = Date.now();
        const result = (await boxes.runAction('tracking', 'stats', { all: true })) as StatsResult;
        const screen = topScreen(topRows(result, previous?.result, previous ? (at - previous.at) / 1000 : 0, sort), sort, new Date(at));
        process.stdout.write(tty ? `${CLEAR}${screen}\n` : `${screen}\n\n`);
        previous = { result, at };
        frame += 1;
        if (frame >= iterations) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, interval);
        });
      }
    } finally {
      if (tty) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
        process.stdout.write('\x1b[?25h');
      }
    }
    return undefined;
  },
};
