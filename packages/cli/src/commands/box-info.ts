import type { Box, OciSpec } from '@nsbox/core';
import { summarize } from '../box-helpers.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'info',
  description: 'show a box: state, processes, config and the effective policy of its plugins',
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    const host = await context.host();
    const box = await host.manager.sync(name as string);
    const spec = box.runtime.spec as OciSpec | undefined;
    // A plugin that publishes a 'boxInfo' service ({ describe(box) }) adds its own section.
    const details: Record<string, unknown> = {};
    for (const plugin of host.plugins.pluginsFor(box)) {
      if (!plugin.definition.publishes.boxInfo) continue;
      const provider = host.plugins.service<{ describe(box: Box): unknown }>(plugin.definition.name, 'boxInfo');
      const section = await (async () => provider.describe(box))().catch((error: Error) => ({ error: error.message }));
      if (section !== undefined) details[plugin.definition.name] = section;
    }
    return {
      ...summarize(box),
      createdAt: new Date(box.createdAt).toISOString(),
      config: box.config,
      plugins: host.plugins.pluginsFor(box).map((plugin) => `${plugin.definition.name}@${plugin.definition.version}`),
      // Said plainly: without the isolation plugin, a box's root is the host's root.
      ...(host.plugins.pluginsFor(box).some((plugin) => plugin.definition.name === 'isolation')
        ? {}
        : {
            isolation:
              'OFF: this box runs without the isolation plugin, so without its restrictions: no user namespace (root in the box is root on the host), no seccomp filter, no device allowlist, no no_new_privs',
          }),
      ...(spec
        ? {
            effective: {
              hostname: spec.hostname,
              init: spec.process.args,
              namespaces: spec.linux.namespaces.map((namespace) => namespace.type),
              privileged: !spec.linux.namespaces.some((namespace) => namespace.type === 'user'),
              capabilities: spec.process.capabilities?.bounding ?? [],
              noNewPrivileges: spec.process.noNewPrivileges ?? false,
              maskedPaths: spec.linux.maskedPaths ?? [],
              readonlyPaths: spec.linux.readonlyPaths ?? [],
              rootReadonly: spec.root.readonly ?? false,
            },
          }
        : {}),
      ...(Object.keys(details).length > 0 ? { details } : {}),
      recentEvents: host.manager
        .history({ boxId: box.id })
        .slice(-10)
        .map((event) => `${new Date(event.time).toISOString()} ${event.kind}`),
    };
  },
  render: (result) =>
    Object.entries(result as Record<string, unknown>)
      .map(([key, value]) => `${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
      .join('\n'),
});
