import type { OciSpec } from '@nsbox/core';
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
    return {
      ...summarize(box),
      createdAt: new Date(box.createdAt).toISOString(),
      config: box.config,
      plugins: host.plugins.pluginsFor(box).map((plugin) => `${plugin.definition.name}@${plugin.definition.version}`),
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
