/** `nsbox isolation ranges` (and its route): which host uid/gid range each box holds, and ranges whose box is gone. */

import { type BoxRepository, CoreTokens, defineAction, z } from '@nsbox/core';
import { IsolationTokens } from './tokens.js';
import type { UidAllocator } from './uid-allocator.js';

interface RangeRow {
  box: string;
  uid: string;
  gid: string;
  orphan: boolean;
}

export const rangesAction = defineAction({
  name: 'ranges',
  description: 'list the host uid/gid range of every box (--prune frees those whose box is gone)',
  input: z.strictObject({ prune: z.boolean().optional().describe('free ranges whose box no longer exists') }),
  // Host ids and every tenant's boxes: the host admin's view.
  role: 'admin',
  hostWide: true,
  cli: { options: [{ flags: '--prune', description: 'free ranges whose box no longer exists' }] },
  run(input, { own }) {
    const allocator = own<UidAllocator>(IsolationTokens.UidAllocator);
    const boxes = own<BoxRepository>(CoreTokens.BoxRepository);
    const rows: RangeRow[] = allocator.list().map(({ boxId, ranges }) => {
      const box = boxes.find(boxId);
      const span = (range: { hostID: number; size: number }) => `${range.hostID}-${range.hostID + range.size - 1}`;
      return { box: box?.name ?? boxId, uid: span(ranges.uid), gid: span(ranges.gid), orphan: box === undefined };
    });
    if (input.prune) {
      for (const { boxId } of allocator.list()) if (!boxes.find(boxId)) allocator.free(boxId);
    }
    return { pool: allocator.pools().source, ranges: rows, pruned: input.prune ? rows.filter((row) => row.orphan).length : 0 };
  },
  render({ pool, ranges, pruned }) {
    const lines = ranges.map((row) => `${row.box}\tuid ${row.uid}\tgid ${row.gid}${row.orphan ? '\t(box gone)' : ''}`);
    return [`pool: ${pool}`, ...lines, ...(pruned ? [`pruned ${pruned}`] : [])].join('\n');
  },
});
