/**
 * `nsbox dedupe [--dry-run] [--min-size 4K]` (and `POST /plugins/sharing/actions/dedupe`):
 * identical files in the upper layers of the host's stopped layered boxes are merged into one
 * inode each, shared read-only by every box that had it (the runtime's `rootfsLayers.dedupe`:
 * a write copies the file up again). Reports the bytes saved; the dry run changes nothing.
 * Host-wide: admin only.
 */

import { coreRefs, defineAction, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { formatSize, parseSize } from './units.js';

export const dedupeAction = defineAction({
  name: 'dedupe',
  description: "merge identical files of stopped boxes' upper layers into one shared copy each; --dry-run reports what it would save",
  input: z.strictObject({
    dryRun: z.boolean().optional().describe('only report what would be merged and the bytes saved'),
    minSize: z
      .union([z.string(), z.number()])
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return undefined;
        try {
          return parseSize(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      })
      .describe('leave files smaller than this alone (default 4K)'),
  }),
  role: 'admin',
  hostWide: true,
  cli: {
    command: 'dedupe',
    options: [
      { flags: '--dry-run', description: 'only report what would be merged and the bytes saved' },
      { flags: '--min-size <size>', description: 'leave files smaller than this alone (default 4K)' },
    ],
  },
  run: ({ dryRun, minSize }, { services }) => {
    const boxes = services.get(coreRefs.boxManager).list();
    return services.get(runtimeRefs.rootfsLayers).dedupe(boxes, { dryRun: dryRun === true, ...(minSize !== undefined ? { minBytes: minSize } : {}) });
  },
  render: (report) => {
    const head = `${report.dryRun ? 'would merge' : 'merged'} ${report.files} file(s), ${report.dryRun ? 'saving' : 'saved'} ${formatSize(report.bytesSaved)} (${report.bytesSaved} bytes)`;
    const lines = report.boxes.map((box) => `  ${box.name}: ${box.skipped ? `left alone (${box.skipped})` : `${box.files} file(s)`}`);
    return [head, ...lines].join('\n');
  },
});
