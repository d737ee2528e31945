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
    // Through nsboxd these are requests of their own: the two that do not depend on each other
    // at once; the events after the details, whose sync may add one.
    const [installed, details] = await Promise.all([api.plugins(), api.details(box.id)]);
    const recentEvents = await api.history(box.id, { last: 10 });
    const plugins = installed.filter((plugin) => plugin.enabled && !disabled.has(plugin.name));
    const { lastExit: _lastExit, ...runtime } = box.runtime;
    // Each plugin that contributes to the box-info point adds its own section (details).
    return boxInfoView({ box: { ...box, runtime }, plugins, details, recentEvents });
  },
  render: renderBoxInfo,
});
