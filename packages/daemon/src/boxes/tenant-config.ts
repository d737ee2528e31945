/**
 * A box's stored config as its tenant knows it: an imported template is stored as its host
 * path (the runtime copies from there), but the tenant named it and must not see the path. The
 * tenant policy judges this form (a template by name is tenant-safe, a path is not), and the
 * tenant's responses show it.
 */

import type { Box, BoxConfig } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import type { DaemonContext } from '../context.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import { shownBoxName } from './box-names.js';
import { boxView } from './box-view.js';

/**
 * The config as the tenant knows it: an imported template by its name (the box was made from
 * it, whoever may use it now), and no template at all when it was removed since (its path
 * would be a host path).
 */
export function configAsTenantSees(config: BoxConfig, templates: TemplateRegistry): BoxConfig {
  if (typeof config.template !== 'string' || !config.template.startsWith('/')) return config;
  const { template, ...rest } = config;
  const name = templates.nameOf(template, null);
  return name ? { ...rest, template: name } : rest;
}

/**
 * Refuses (403) to start a tenant's box whose stored config its tenant's current policy does
 * not allow. The template is left out: it was copied when the box was made, a start does not
 * use it (and it may have been unshared or removed since).
 */
export function checkStoredConfig(context: DaemonContext, scope: Scope, box: Box): void {
  if (scope.tenant === null) return;
  const { template: _template, ...config } = box.config;
  context.policy.check(scope.caller, config);
}

/**
 * The runtime facts a tenant is shown: when it started, how it ended, its image's defaults.
 * The rest (rootfs directory, host pids of init and shim, cgroup, the OCI spec with its host
 * paths and id maps) is the host's.
 */
const TENANT_RUNTIME_FACTS = ['startedAt', 'exit', 'lastExit', 'image'];

/** boxView, with the name, the config and the runtime facts as `viewer` (a tenant, or null: the host) may know them. */
export function boxViewFor(context: DaemonContext, viewer: string | null, box: Box, options: Parameters<typeof boxView>[1] = {}): Box {
  if (viewer === null) return boxView(box, options);
  const view = boxView({ ...box, name: shownBoxName(viewer, box.name), config: configAsTenantSees(box.config, context.templates) }, options);
  return { ...view, runtime: Object.fromEntries(Object.entries(view.runtime).filter(([key]) => TENANT_RUNTIME_FACTS.includes(key))) };
}

/** boxView for the caller of a request. */
export function scopedBoxView(context: DaemonContext, scope: Scope, box: Box, options: Parameters<typeof boxView>[1] = {}): Box {
  return boxViewFor(context, scope.tenant, box, options);
}
