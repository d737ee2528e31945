/**
 * `nsbox sharing templates` (the template layers and the boxes on each version),
 * `nsbox sharing refresh TEMPLATE` (a new version, for new boxes) and `nsbox sharing prune`
 * (versions no box uses any more). Host-wide: admin only for the ones that change something.
 */

import { defineAction, z } from '@nsbox/core';
import { runtimeRefs, type TemplateLayer } from '@nsbox/runtime-api';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export const templatesAction = defineAction({
  name: 'templates',
  description: 'list the shared template layers: each version, its size and the boxes made on it',
  input: z.strictObject({}),
  readOnly: true,
  role: 'read-only',
  hostWide: true,
  cli: {},
  run: (_input, { services }) => ({ layers: services.get(runtimeRefs.rootfsLayers).versions() }),
  render: ({ layers }) =>
    layers.length === 0
      ? 'no shared template layers'
      : layers
          .map((layer) => `${layer.template}@${layer.version}${layer.current ? ' (current)' : ''}  ${mib(layer.bytes)}  ${layer.boxes.length} box(es)`)
          .join('\n'),
});

export const refreshAction = defineAction({
  name: 'refresh',
  description: 'make a new version of a template layer from the template as it is now: new boxes get it, existing boxes keep theirs',
  input: z.strictObject({ template: z.string().min(1).describe('the template (a built-in name or an absolute path)') }),
  role: 'admin',
  hostWide: true,
  cli: { arguments: [{ name: 'template', description: 'the template (a built-in name or an absolute path)', required: true }] },
  run: async ({ template }, { services, operation }) => {
    const layer: TemplateLayer = await services.get(runtimeRefs.rootfsLayers).refresh(template, operation);
    return { layer };
  },
  render: ({ layer }) => `template ${layer.template}: version ${layer.version} (${mib(layer.bytes)}) is current; boxes made before keep theirs`,
});

export const pruneAction = defineAction({
  name: 'prune',
  description: 'remove template layer versions that are not current and that no box uses',
  input: z.strictObject({}),
  role: 'admin',
  hostWide: true,
  cli: {},
  run: (_input, { services }) => ({ removed: services.get(runtimeRefs.rootfsLayers).prune() }),
  render: ({ removed }) =>
    removed.length === 0 ? 'nothing to prune' : removed.map((layer) => `removed ${layer.template}@${layer.version} (${mib(layer.bytes)})`).join('\n'),
});

export const templateActions = [templatesAction, refreshAction, pruneAction];
