/** `nsbox isolation ranges`: which host uid/gid range each box holds, and ranges whose box is gone. */

import { type BoxRepository, type CommandContribution, CoreTokens } from '@nsbox/core';
import { IsolationTokens } from './tokens.js';
import type { UidAllocator } from './uid-allocator.js';

interface RangeRow {
  box: string;
  uid: string;
  gid: string;
  orphan: boolean;
}

export const rangesCommand: CommandContribution = {
  name: 'isolation ranges',
  description: 'list the host uid/gid range of every box (--prune frees those whose box is gone)',
  options: [{ flags: '--prune', description: 'free ranges whose box no longer exists' }],
  run({ options, services }) {
    const allocator = services.get<UidAllocator>(IsolationTokens.UidAllocator);
    const boxes = services.get<BoxRepository>(CoreTokens.BoxRepository);
    const rows: RangeRow[] = allocator.list().map(({ boxId, ranges }) => {
      const box = boxes.find(boxId);
      const span = (range: { hostID: number; size: number }) => `${range.hostID}-${range.hostID + range.size - 1}`;
      return { box: box?.name ?? boxId, uid: span(ranges.uid), gid: span(ranges.gid), orphan: box === undefined };
    });
    if (options.prune) {
      for (const { boxId } of allocator.list()) if (!boxes.find(boxId)) allocator.free(boxId);
    }
    return { pool: allocator.pools().source, ranges: rows, pruned: options.prune ? rows.filter((row) => row.orphan).length : 0 };
  },
  render(result) {
    const { pool, ranges, pruned } = result as { pool: string; ranges: RangeRow[]; pruned: number };
    const lines = ranges.map((row) => `${row.box}\tuid ${row.uid}\tgid ${row.gid}${row.orphan ? '\t(box gone)' : ''}`);
    return [`pool: ${pool}`, ...lines, ...(pruned ? [`pruned ${pruned}`] : [])].join('\n');
  },
};
