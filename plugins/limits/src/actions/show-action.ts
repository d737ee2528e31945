/** `nsbox limits NAME` (and `GET /plugins/limits/actions/show?box=NAME`): configured and effective limits, usage, and new limit events. */

import { defineAction, z } from '@nsbox/core';
import { LimitsService } from '../limits-service.js';
import { renderLimits } from './render.js';

export const showAction = defineAction({
  name: 'show',
  description: "show a box's limits: configured, enforced by the kernel now, and usage",
  input: z.strictObject({ box: z.string().min(1).describe('the box (name or id)') }),
  box: true,
  readOnly: true,
  cli: { command: 'limits', arguments: [{ name: 'box', description: 'the box (name or id)', required: true }] },
  async run(input, { box, api, own }) {
    // The box as the caller knows it (a tenant's own name for it); the report from the stored box.
    const shown = await api.get(input.box);
    return { box: shown.name, state: shown.state, ...own(LimitsService).report(box as NonNullable<typeof box>) };
  },
  render: (report) => `box ${report.box} (${report.state})\n${renderLimits(report)}`,
});
