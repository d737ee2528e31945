import { boxDetails } from '@nsbox/host';
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
    // Each plugin that contributes to the box-info point adds its own section.
    const details = await boxDetails(host.plugins, box);
    return boxInfoView({
      box,
      plugins: plugins.map((plugin) => ({ name: plugin.definition.name, version: plugin.definition.version })),
      details,
      recentEvents: host.manager.history({ boxId: box.id }).slice(-10),
    });
  },
  render: renderBoxInfo,
});
