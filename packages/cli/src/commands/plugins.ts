import type { PluginInfo } from '@nsbox/core';
import { defineCommand } from '../command.js';
import { table } from '../render.js';

export default defineCommand({
  name: 'plugins',
  description: 'list installed plugins: versions, dependencies, whether enabled',
  async run(context) {
    return (await context.api()).plugins();
  },
  render(result) {
    const plugins = result as PluginInfo[];
    if (plugins.length === 0) return 'no plugins installed';
    return table(
      ['NAME', 'VERSION', 'CORE', 'REQUIRES', 'ENABLED', 'COMMANDS', 'ACTIONS'],
      plugins.map((p) => [
        p.name,
        p.version,
        p.core,
        Object.entries(p.requires)
          .map(([n, r]) => `${n}@${r}`)
          .join(',') || '-',
        p.enabled ? 'yes' : 'no',
        p.commands.join(',') || '-',
        p.actions.join(',') || '-',
      ]),
    );
  },
});
