/**
 * `nsbox virtualisation hostname BOX NAME` (and `POST /plugins/virtualisation/actions/hostname`,
 * the SDK's `actions.run`): a box's hostname changed live. The name is the core's `hostname`
 * field, changed through the BoxApi as the caller's own (validated there, tenant policy,
 * audit) and kept for the next start; a running box gets it in its UTS namespace at once,
 * without a restart. The core field and the launcher's `hostname` op stay the one place a
 * box's name is set at start: this adds only the live part.
 */

import { defineAction, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';

export const hostnameAction = defineAction({
  name: 'hostname',
  description: "change a box's hostname: a running box gets it at once, and it is kept for the next start",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    hostname: z.string().min(1).describe('the new hostname'),
  }),
  box: true,
  cli: {
    arguments: [
      { name: 'box', description: 'the box (name or id)', required: true },
      { name: 'hostname', description: 'the new hostname', required: true },
    ],
  },
  async run({ box: ref, hostname }, { box, api, services }) {
    const current = box as NonNullable<typeof box>;
    // The core's schema judges the name (the field `hostname`); nothing changes if it is bad.
    const updated = await api.update(ref, { hostname });
    const live = updated.state === 'running' || updated.state === 'paused';
    if (live) services.get(runtimeRefs.uts).setNames(current, { hostname });
    return { box: updated.name, hostname, state: updated.state, live };
  },
  render: (result) => `hostname of box ${result.box}: ${result.hostname} (${result.live ? 'set live' : 'kept for the next start'})`,
});
