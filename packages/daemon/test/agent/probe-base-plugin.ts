/** The probe plugin that another depends on: its host service starts first and stops last. */

import { definePlugin } from '@nsbox/core';
import { probeSettings, recorder } from './probe-journal.js';

export const probeBasePlugin = definePlugin({
  name: 'probe-base',
  version: '1.0.0',
  core: '^1.0.0',
  hostSettings: probeSettings,
  setup(env) {
    const record = recorder('probe-base', probeSettings.parse(env.settings).journal);
    return {
      services: [{ name: 'base', start: () => record({ event: 'start', service: 'base' }), stop: () => record({ event: 'stop', service: 'base' }) }],
    };
  },
});
