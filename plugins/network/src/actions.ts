/**
 * `nsbox net pool create|list|remove` (the host admin's address pools) and `nsbox net forward
 * add|remove|list` (host ports to boxes); each also an API route and an SDK call.
 */

import { type Box, defineAction, z } from '@nsbox/core';
import type { NetworkService } from './network-service.js';
import { ratesOf, withRates } from './set-part.js';

export interface PoolView {
  name: string;
  subnet: string;
  gateway: string;
  source: string;
  used: number;
  /** Only this tenant's boxes draw from it. */
  tenant?: string;
}

const line = (pool: PoolView): string =>
  `${pool.name}  ${pool.subnet}  gateway ${pool.gateway}  ${pool.used} in use  (${pool.source}${pool.tenant ? `, tenant ${pool.tenant}` : ''})`;

/** The plugin's service, as its actions reach it (bound in setup). */
export const networkServiceId = Symbol('network service');

export const poolCreateAction = defineAction({
  name: 'pool-create',
  description: 'create an address pool (IPv4 or IPv6 subnet) that bridged boxes draw from',
  input: z.strictObject({
    name: z.string().min(1).describe('pool name'),
    subnet: z.string({ error: 'pool create needs --subnet CIDR (e.g. 10.88.0.0/24 or fd88::/64)' }).min(1).describe('the subnet, CIDR'),
    gateway: z.string().min(1).optional().describe("the bridge's address in it (default: the first)"),
    tenant: z.string().min(1).optional().describe('the tenant whose boxes draw from it (default: shared)'),
  }),
  role: 'admin',
  hostWide: true,
  cli: {
    command: 'net pool create',
    arguments: [{ name: 'name', required: true, description: 'pool name' }],
    options: [
      { flags: '--subnet <cidr>', description: 'the subnet (10.88.0.0/24, fd88::/64)' },
      { flags: '--gateway <address>', description: "the bridge's address in it (default: the first)" },
      { flags: '--tenant <name>', description: 'only this tenant’s boxes draw from it (default: shared)' },
    ],
  },
  run: (input, { own }) => own<NetworkService>(networkServiceId).createPool(input),
  render: (pool) => `pool ${line(pool)}`,
});

export const poolListAction = defineAction({
  name: 'pool-list',
  description: 'list address pools',
  input: z.strictObject({}),
  readOnly: true,
  role: 'admin',
  hostWide: true,
  cli: { command: 'net pool list' },
  run: (_input, { own }) => own<NetworkService>(networkServiceId).listPools(),
  render: (pools) => pools.map(line).join('\n'),
});

export const poolRemoveAction = defineAction({
  name: 'pool-remove',
  description: 'forget an address pool that no box holds an address of',
  input: z.strictObject({ name: z.string().min(1) }),
  role: 'admin',
  hostWide: true,
  cli: { command: 'net pool remove', arguments: [{ name: 'name', required: true }] },
  run(input, { own }) {
    own<NetworkService>(networkServiceId).removePool(input.name);
    return { removed: input.name };
  },
  render: (result) => `removed pool ${result.removed}`,
});

const forwardInput = z.strictObject({
  box: z.string().min(1),
  forward: z.string({ error: 'a forward: HOSTPORT:BOXPORT[/udp]' }).min(1).describe('HOSTPORT:BOXPORT[/udp]'),
});
const forwardArguments = [
  { name: 'box', required: true, description: 'the box (name or id)' },
  { name: 'forward', required: true, description: 'HOSTPORT:BOXPORT[/udp]' },
];

export const forwardAddAction = defineAction({
  name: 'forward-add',
  description: 'forward a host port (TCP, or UDP with /udp) to a port of a bridged box, IPv4 and IPv6',
  input: forwardInput,
  box: true,
  role: 'admin',
  cli: { command: 'net forward add', arguments: forwardArguments },
  run: (input, { own, box }) => {
    const { spec } = own<NetworkService>(networkServiceId).addForward(box as Box, input.forward);
    return { box: (box as Box).name, forward: spec };
  },
  render: (result) => `forwarding host port ${result.forward} to box ${result.box}`,
});

export const forwardRemoveAction = defineAction({
  name: 'forward-remove',
  description: 'stop forwarding a host port to a box',
  input: forwardInput,
  box: true,
  role: 'admin',
  cli: { command: 'net forward remove', arguments: forwardArguments },
  run: (input, { own, box }) => {
    own<NetworkService>(networkServiceId).removeForward(box as Box, input.forward);
    return { box: (box as Box).name, removed: input.forward };
  },
  render: (result) => `removed forward ${result.removed} of box ${result.box}`,
});

export const forwardListAction = defineAction({
  name: 'forward-list',
  description: "list a box's port forwards",
  input: z.strictObject({ box: z.string().min(1) }),
  box: true,
  readOnly: true,
  cli: { command: 'net forward list' },
  run: (_input, { own, box }) => own<NetworkService>(networkServiceId).listForwards(box as Box),
  render: (forwards) => forwards.join('\n'),
});

const ruleInput = z.strictObject({
  box: z.string().min(1),
  rule: z.string({ error: 'an allow rule: SOURCE[/PREFIX][:PORT[/udp]]' }).min(1).describe('SOURCE[/PREFIX][:PORT[/udp]]'),
});
const ruleArguments = [
  { name: 'box', required: true, description: 'the box (name or id)' },
  { name: 'rule', required: true, description: 'SOURCE[/PREFIX][:PORT[/udp]], e.g. 198.51.100.0/24:80 or [fd00::/64]:22' },
];

export const allowAction = defineAction({
  name: 'allow',
  description: 'allow inbound connections to a box from a source prefix (to one port, TCP or /udp); a box with rules drops other new inbound connections',
  input: ruleInput,
  box: true,
  role: 'admin',
  cli: { command: 'net allow', arguments: ruleArguments },
  run: (input, { own, box }) => ({ box: (box as Box).name, allowed: own<NetworkService>(networkServiceId).allow(box as Box, input.rule) }),
  render: (result) => `box ${result.box} allows ${result.allowed}`,
});

export const denyAction = defineAction({
  name: 'deny',
  description: "take back one of a box's allow rules (a box without rules is open again)",
  input: ruleInput,
  box: true,
  role: 'admin',
  cli: { command: 'net deny', arguments: ruleArguments },
  run: (input, { own, box }) => ({ box: (box as Box).name, removed: own<NetworkService>(networkServiceId).deny(box as Box, input.rule) }),
  render: (result) => `box ${result.box} no longer allows ${result.removed}`,
});

export const allowListAction = defineAction({
  name: 'allow-list',
  description: "list a box's inbound allow rules (none: the box is open)",
  input: z.strictObject({ box: z.string().min(1) }),
  box: true,
  readOnly: true,
  cli: { command: 'net allow-list' },
  run: (_input, { own, box }) => own<NetworkService>(networkServiceId).listAllowed(box as Box),
  render: (rules) => rules.join('\n'),
});

export const setAction = defineAction({
  name: 'set',
  description: "change a box's network rates: a running box gets them at once, and they are kept ('none' removes one)",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    rate: z.string().min(1).optional().describe('what the box may send: 10mbit, 500kbit, 2mbps (bytes); none: unshaped'),
    ingressRate: z.string().min(1).optional().describe('what the box may receive; none: unshaped'),
  }),
  box: true,
  cli: {
    command: 'net set',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: '--rate <rate>', description: 'what the box may send: 10mbit, 500kbit, 2mbps (bytes); none: unshaped' },
      { flags: '--ingress-rate <rate>', description: 'what the box may receive; none: unshaped' },
    ],
  },
  // Through the BoxApi as the caller's own change: the schema, the tenant policy and the
  // network plugin's update hook judge it as they judge PATCH /boxes/:id.
  // `nsbox set NAME --net-rate ...` (set-part.ts) is the same change beside other plugins' options.
  async run({ box: ref, rate, ingressRate }, { box, api }) {
    const updated = await api.update(ref, { network: withRates(box as Box, { rate, ingressRate }) });
    return { box: updated.name, state: updated.state, ...ratesOf(updated) };
  },
  render: (result) =>
    `box ${result.box} (${result.state}): sends at ${result.rate}, receives at ${result.ingressRate}${result.state === 'running' ? ', applied live' : ''}`,
});

export const networkActions = [
  setAction,
  poolCreateAction,
  poolListAction,
  poolRemoveAction,
  forwardAddAction,
  forwardRemoveAction,
  forwardListAction,
  allowAction,
  denyAction,
  allowListAction,
] as const;
