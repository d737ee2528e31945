/**
 * The agent tests' probe: records the exited hook with its reason and the tear-down hooks
 * of every box, and runs two host services — `steady`, and `flaky`, whose first starts throw.
 */

import { definePlugin, type HookContext } from '@nsbox/core';
import { probeSettings, recorder } from './probe-journal.js';

export const probePlugin = definePlugin({
  name: 'probe',
  version: '1.0.0',
  core: '^1.0.0',
  requires: { 'probe-base': '^1.0.0' },
  hostSettings: probeSettings,
  setup(env) {
    const settings = probeSettings.parse(env.settings);
    const record = recorder('probe', settings.journal);
    const hook = (event: string) => (context: HookContext<unknown>) =>
      record({ event, box: context.box.name, ...(context.exit ? { exit: { ...context.exit } } : {}) });
    let failuresLeft = settings.failFirstStarts;
    return {
      hooks: {
        started: hook('started'),
        exited: async (context: HookContext<unknown>) => {
          hook('exited')(context);
          // An agent killed in the middle of settling an exit (set only in a child nsboxd's env).
          if (process.env.NSBOX_PROBE_KILL_IN_EXITED === '1') process.kill(process.pid, 'SIGKILL');
          await new Promise((resolve) => setTimeout(resolve, settings.exitedDelayMs));
        },
        stopping: hook('stopping'),
        stopped: hook('stopped'),
      },
      services: [
        { name: 'steady', start: () => record({ event: 'start', service: 'steady' }), stop: () => record({ event: 'stop', service: 'steady' }) },
        {
          name: 'flaky',
          start: () => {
            record({ event: 'start', service: 'flaky' });
            if (failuresLeft > 0) {
              failuresLeft -= 1;
              throw new Error('flaky fails on purpose');
            }
          },
          stop: () => record({ event: 'stop', service: 'flaky' }),
        },
      ],
    };
  },
});
