import { boxInfoView, renderBoxInfo } from '../box-info-view.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'info',
  description: 'show a box: state, processes, config and the effective policy of its plugins',
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    const api = await context.api();
    const box = await api.get(name as string);
    const disabled = new Set(box.config.plugins?.disable ?? []);
    const plugins = (await api.plugins()).filter((plugin) => plugin.enabled && !disabled.has(plugin.name));
    const { lastExit: _lastExit, ...runtime } = box.runtime;
    return boxInfoView({
      box: { ...box, runtime },
      plugins,
      // Each plugin that contributes to the box-info point adds its own section.
      details: await api.details(box.id),
      recentEvents: await api.history(box.id, { last: 10 }),
    });
  },
  render: renderBoxInfo,
});
