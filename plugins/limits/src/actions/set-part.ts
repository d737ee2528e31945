/**
 * The limits part of `nsbox set NAME --cpus 1.5 --memory 512M ...` (the core's set command,
 * `POST /boxes/{id}/set`): the new `limits` section, judged and applied live by the limits
 * hooks' update (the host, what a running box uses, what its disk holds) as any change is.
 */

import { type SetOptionContribution, z } from '@nsbox/core';
import type { LimitsService } from '../limits-service.js';
import { sectionOf } from '../limits-service.js';
import { renderLimits } from './render.js';
import { mergeLimitOptions, scalarOptions } from './set-options.js';

const scalar = z.union([z.string(), z.number()]);
const oneOrMore = z.union([z.string(), z.array(z.string())]);

export const limitsSetInput = z.strictObject({
  ...(Object.fromEntries(Object.entries(scalarOptions).map(([field, option]) => [field, scalar.optional().describe(option.description)])) as Record<
    keyof typeof scalarOptions,
    z.ZodOptional<typeof scalar>
  >),
  rlimit: oneOrMore.optional().describe('rlimits: nofile=1024:4096, core=0; name=- removes one'),
  io: oneOrMore.optional().describe('IO throttles: /dev/vdb,wbps=10M,riops=500; DEVICE,none removes one'),
  resetLimits: z.boolean().optional().describe('remove every limit first'),
});

export function limitsSetPart(service: LimitsService): SetOptionContribution {
  return {
    plugin: 'limits',
    options: {
      ...Object.fromEntries(Object.entries(scalarOptions).map(([field, option]) => [field, { flags: option.flag, description: option.description }])),
      rlimit: { flags: '--rlimit <name=soft:hard...>', description: 'rlimits (nofile=1024:4096 core=0); name=- removes one' },
      io: { flags: '--io <device,key=value...>', description: 'IO throttles (/dev/vdb,wbps=10M,riops=500); device,none removes' },
      resetLimits: { flags: '--reset-limits', description: 'remove every limit first' },
    },
    input: limitsSetInput,
    changes(box, { resetLimits, ...values }) {
      const next = mergeLimitOptions(sectionOf(box), { ...values, reset: resetLimits });
      return { limits: Object.keys(next).length > 0 ? next : null };
    },
    report: (box) => service.report(box),
    render: (part, outcome) => `limits of box ${outcome.box}:\n${renderLimits(part as ReturnType<LimitsService['report']>)}`,
  };
}
