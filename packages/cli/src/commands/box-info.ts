import type { Box } from '@nsbox/core';
import { boxInfoView, renderBoxInfo } from '../box-info-view.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'info',
  description: 'show a box: state, processes, config and the effective policy of its plugins',
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    const host = await context.host();
    const box = await host.manager.sync(name as string);
    const plugins = host.plugins.pluginsFor(box);
    // A plugin that publishes a 'boxInfo' service ({ describe(box) }) adds its own section.
    const details: Record<string, unknown> = {};
    for (const plugin of plugins) {
      if (!plugin.definition.publishes.boxInfo) continue;
      const provider = host.plugins.service<{ describe(box: Box): unknown }>(plugin.definition.name, 'boxInfo');
      const section = await (async () => provider.describe(box))().catch((error: Error) => ({ error: error.message }));
      if (section !== undefined) details[plugin.definition.name] = section;
    }
    return boxInfoView({
      box,
      plugins: plugins.map((plugin) => ({ name: plugin.definition.name, version: plugin.definition.version })),
      details,
      recentEvents: host.manager.history({ boxId: box.id }).slice(-10),
    });
  },
  render: renderBoxInfo,
});
