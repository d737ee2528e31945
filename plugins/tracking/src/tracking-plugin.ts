/** The tracking plugin: what every box uses, live and over time. */

import {
  type BoxRepository,
  boxStatsPoint,
  ContainerModule,
  CoreTokens,
  contribute,
  coreRefs,
  definePlugin,
  type EventBus,
  hostInfoPoint,
  metricsPoint,
  type PluginHost,
} from '@nsbox/core';
import { native } from '@nsbox/native';
import { runtimeRefs } from '@nsbox/runtime-api';
import { BoxReader } from './box-reader.js';
import { HistoryStore } from './history-store.js';
import { KernelLog } from './kernel-log.js';
import { Sampler } from './sampler.js';
import { logDenials } from './seccomp-filter.js';
import { trackingSettingsSchema } from './settings.js';
import { statsAction } from './stats-action.js';
import { statsContribution } from './stats-point.js';
import { topCommand } from './top-command.js';
import { TrackingService, trackingServiceId } from './tracking-service.js';
import { version } from './version.js';

const trackingModule = new ContainerModule((options) => {
  options
    .bind(trackingServiceId)
    .toDynamicValue((context) => {
      const settings = trackingSettingsSchema.parse(
        (context.get(coreRefs.hostSettings.token, { optional: true }) as Record<string, unknown> | undefined)?.tracking ?? {},
      );
      const history = new HistoryStore(context.get(coreRefs.pluginDatabases.token), settings);
      const manager = context.get(runtimeRefs.cgroupManager.token, { optional: true });
      // Without the runtime's cgroups (a host of another driver) there is history only.
      // An idle box's full reading serves again for up to a fine step: each fine point has one.
      const reader = manager ? new BoxReader(manager, settings.fineStepSeconds * 1000) : undefined;
      const tracking = new TrackingService(reader, history, settings);
      if (reader) {
        const plugins = context.get<PluginHost>(CoreTokens.PluginHost);
        tracking.sampler = new Sampler({
          boxes: context.get<BoxRepository>(CoreTokens.BoxRepository),
          events: context.get<EventBus>(CoreTokens.EventBus),
          reader,
          history,
          kernelLog: new KernelLog((arch, nr) => native().syscallName(arch, nr)),
          settings,
          // Other plugins' counters (its own are what the sampler reads).
          contributions: () => plugins.contributions(metricsPoint).filter((contribution) => contribution !== tracking.contribution),
        });
      }
      return tracking;
    })
    .inSingletonScope();
});

export const trackingPlugin = definePlugin({
  name: 'tracking',
  version,
  description: 'what every box uses: sampled by the resident agent, kept as history, nsbox stats, /metrics, a flight recorder',
  core: '^1.1.0',
  hostSettings: trackingSettingsSchema,
  module: trackingModule,
  actions: [statsAction],
  commands: [topCommand],
  setup: ({ own }) => {
    const tracking = own<TrackingService>(trackingServiceId);
    const boxes = own<BoxRepository>(CoreTokens.BoxRepository);
    return {
      hooks: {
        // The box's seccomp filter logs what it denies (seccomp-filter.ts): after every spec
        // hook (isolation's profile, network's socket rules), so the filter is the final one.
        prepare: (ctx) => {
          if (tracking.settings.seccompDenials) logDenials(ctx.spec);
        },
        // A box's history goes with it.
        destroy: (ctx) => {
          tracking.history.forget(ctx.box.id);
        },
      },
      contributions: [
        contribute(metricsPoint, tracking.contribution),
        contribute(boxStatsPoint, statsContribution(tracking, boxes)),
        // What sampling costs this process (the rounds' CPU, as bench/metrics reads it).
        contribute(hostInfoPoint, {
          section: 'tracking',
          describe: () => ({
            intervalSeconds: tracking.settings.intervalSeconds,
            sampler: tracking.sampler?.cost ?? null,
            seccomp: tracking.sampler?.seccomp ?? null,
          }),
        }),
      ],
      services: tracking.sampler ? [tracking.sampler.service()] : [],
    };
  },
});
