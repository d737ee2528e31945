/** The network plugin: each box its own addresses on a bridge (NAT to the outside), or none. */

import { boxInfoPoint, boxOptionPoint, ContainerModule, contribute, coreRefs, definePlugin, hostPoolPoint, metricsPoint, setOptionPoint } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { networkActions, networkServiceId } from './actions.js';
import { networkConfigSchema } from './config-schema.js';
import { NetworkService } from './network-service.js';
import { networkSetPart } from './set-part.js';
import { networkSettingsSchema } from './settings.js';
import { version } from './version.js';

const networkModule = new ContainerModule((options) => {
  options
    .bind(networkServiceId)
    .toDynamicValue(
      (context) =>
        new NetworkService(
          context.get(coreRefs.pluginState.token),
          (context.get(coreRefs.hostSettings.token, { optional: true }) as Record<string, unknown> | undefined)?.network,
          context.get(runtimeRefs.cgroups.token, { optional: true }),
        ),
    )
    .inSingletonScope();
});

function setSection(config: Record<string, unknown>, fields: Record<string, unknown>): void {
  config.network = { ...(config.network as Record<string, unknown> | undefined), ...fields };
}

/**
 * `--net host|shared` also takes the box out of a network namespace of its own, which the
 * isolation plugin owns (`isolation.namespaces.network`): one flag on the command line, as the
 * config file says both.
 */
export function setMode(config: Record<string, unknown>, mode: string): void {
  setSection(config, { mode });
  if (mode !== 'host' && mode !== 'shared') return;
  const isolation = (config.isolation ?? {}) as Record<string, unknown>;
  config.isolation = { ...isolation, namespaces: { ...(isolation.namespaces as Record<string, unknown> | undefined), network: 'host' } };
}

export const networkPlugin = definePlugin({
  name: 'network',
  version,
  description: "box networking: a veth on a bridge with addresses from pools and NAT, routed, none, or the host's stack (confined to its addresses)",
  core: '^1.1.0',
  config: networkConfigSchema,
  // A tenant may ask for a mode but the host's own stack (`host`, `shared`); addresses and rates
  // are the admin's (claims on host pools, the host's addresses and bandwidth).
  tenantSafe: { mode: { values: ['bridge', 'routed', 'none'] } },
  hostSettings: networkSettingsSchema,
  module: networkModule,
  actions: networkActions,
  setup: ({ own }) => {
    const network = own<NetworkService>(networkServiceId);
    // Boxes with a veth of nsbox's: bridged or routed.
    const bridged = (box: Parameters<NetworkService['describe']>[0]) => network.addresses.wired(box);
    return {
      hooks: {
        validate: (ctx) => network.validate(ctx.box),
        // Addresses are claimed when the box is made, kept across stops, freed at destroy.
        provision: (ctx) => {
          if (bridged(ctx.box)) network.addresses.assign(ctx.box);
        },
        // A box switched to another mode while stopped gives its addresses back at its next start.
        prepare: (ctx) => {
          if (!bridged(ctx.box)) network.addresses.release(ctx.box);
          network.prepare(ctx.box, ctx.spec);
        },
        // Only a box with a veth needs its init held for the wire moment.
        wires: (ctx) => bridged(ctx.box),
        wire: (ctx) => {
          if (bridged(ctx.box)) network.wire(ctx.box, ctx.spec.hostname ?? ctx.box.name);
        },
        exited: (ctx) => {
          if (bridged(ctx.box)) network.unwire(ctx.box);
        },
        stopped: (ctx) => {
          if (bridged(ctx.box)) network.unwire(ctx.box);
        },
        update: (ctx) => network.update(ctx.box, ctx.previous),
        destroy: (ctx) => network.release(ctx.box),
        // Also for a hook a killed process was inside (reconcile undoes the step it began):
        // both are idempotent, and work from the box alone.
        rollback: (ctx, hook) => {
          if (hook === 'wire') network.unwire(ctx.box);
          if (hook === 'provision') network.addresses.release(ctx.box);
        },
      },
      contributions: [
        contribute(boxInfoPoint, { section: 'network', describe: (box) => network.describe(box) }),
        contribute(hostPoolPoint, { plugin: 'network', list: () => network.listPools().map((pool) => ({ ...pool })) }),
        contribute(metricsPoint, { collect: (boxes) => network.metrics(boxes) }),
        // `nsbox create NAME --net bridge --ip 10.88.0.5 --ip fd88::5/64`: the schema checks the values.
        contribute(boxOptionPoint, {
          flags: '--net <mode>',
          key: 'net',
          description: 'network mode: bridge, routed, none, host or shared (the last two admin only; network plugin)',
          apply: (config, value) => setMode(config, String(value)),
        }),
        contribute(boxOptionPoint, {
          flags: '--ip <address>',
          key: 'ip',
          repeatable: true,
          description: 'a static address ADDR[/PREFIX] inside a pool, or for shared a host address the box is confined to (repeatable; network plugin)',
          apply: (config, value) => setSection(config, { ip: value }),
        }),
        contribute(boxOptionPoint, {
          flags: '--net-rate <rate>',
          key: 'netRate',
          description: 'what the box may send, as tc spells a rate: 10mbit (network plugin)',
          apply: (config, value) => setSection(config, { rate: value }),
        }),
        contribute(boxOptionPoint, {
          flags: '--net-ingress-rate <rate>',
          key: 'netIngressRate',
          description: 'what the box may receive: 20mbit (network plugin)',
          apply: (config, value) => setSection(config, { ingressRate: value }),
        }),
        // `nsbox set NAME --net-rate 10mbit --net-ingress-rate 20mbit`, live through the update hook.
        contribute(setOptionPoint, networkSetPart),
      ],
    };
  },
});
