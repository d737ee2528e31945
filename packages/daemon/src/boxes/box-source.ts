/**
 * Checks, before anything is written, that a new box's template or rootfs exists, and turns
 * an imported template's name into its directory (with the image's defaults for the init).
 * A request that names a missing template fails here with the field to blame and leaves
 * no trace in the store, not even history.
 */

import { existsSync, statSync } from 'node:fs';
import type { BoxConfig } from '@nsbox/core';
import { builtinTemplates } from '@nsbox/runtime';
import { fieldError } from '../http/api-error.js';
import type { TemplateRegistry } from '../templates/template-registry.js';

export function resolveBoxSource(config: Record<string, unknown>, templates: TemplateRegistry, tenant: string | null): Record<string, unknown> {
  const { template, rootfs } = config as BoxConfig;
  // Host paths are the host admin's business: a tenant picks among the named templates.
  if (tenant !== null && rootfs !== undefined) throw fieldError('E_FORBIDDEN', 'config.rootfs', 'a tenant cannot make a box from a host directory');
  if (tenant !== null && typeof template === 'string' && template.startsWith('/')) {
    throw fieldError('E_FORBIDDEN', 'config.template', 'a tenant picks a built-in or an imported template by name, not a host path');
  }
  if (template === undefined && rootfs === undefined) {
    throw fieldError('E_INVALID_CONFIG', 'config.template', 'a box needs a template (a built-in, an imported template or a path) or a rootfs directory');
  }
  if (template !== undefined && rootfs !== undefined) {
    throw fieldError('E_INVALID_CONFIG', 'config.rootfs', 'give either a template or a rootfs, not both');
  }
  if (typeof rootfs === 'string') {
    if (!rootfs.startsWith('/') || !existsSync(rootfs) || !statSync(rootfs).isDirectory()) {
      throw fieldError('E_INVALID_CONFIG', 'config.rootfs', `rootfs ${rootfs} does not exist or is not a directory`);
    }
    return config;
  }
  if (typeof template !== 'string') return config; // the config schema reports the type
  if (builtinTemplates.includes(template)) return config;
  // A tenant finds its own templates and the shared ones; another tenant's is missing, as any missing one.
  const imported = templates.find(template, tenant);
  if (imported) {
    const process = { ...((config.process as Record<string, unknown> | undefined) ?? {}) };
    const image = imported.image;
    const args = [...(image?.entrypoint ?? []), ...(image?.cmd ?? [])];
    if (process.args === undefined && args.length > 0) process.args = args;
    if (process.cwd === undefined && image?.workingDir) process.cwd = image.workingDir;
    return { ...config, template: imported.path, ...(Object.keys(process).length > 0 ? { process } : {}) };
  }
  if (tenant !== null || !template.startsWith('/') || !existsSync(template)) {
    throw fieldError(
      'E_NOT_FOUND',
      'config.template',
      `there is no template '${template}' (built-ins: ${builtinTemplates.join(', ')}; imported: GET /templates)`,
      {
        template,
      },
    );
  }
  return config;
}
