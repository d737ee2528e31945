/**
 * What `nsbox info` shows, built the same way whether the box came from the local host or
 * from nsboxd, so `--json` is identical through both faces.
 */

import type { Box, OciSpec } from '@nsbox/core';
import { summarize } from './box-helpers.js';

export const ISOLATION_OFF =
  'OFF: this box runs without the isolation plugin, so without its restrictions: no user namespace (root in the box is root on the host), no seccomp filter, no device allowlist, no no_new_privs';

export interface BoxInfoInputs {
  box: Box;
  /** `name@version` of every plugin that applies to the box. */
  plugins: { name: string; version: string }[];
  /** Sections that plugins publishing a `boxInfo` service add. */
  details: Record<string, unknown>;
  recentEvents: { time: number; kind: string }[];
}

function effectivePolicy(spec: OciSpec) {
  return {
    hostname: spec.hostname,
    init: spec.process.args,
    namespaces: spec.linux.namespaces.map((namespace) => namespace.type),
    privileged: !spec.linux.namespaces.some((namespace) => namespace.type === 'user'),
    capabilities: spec.process.capabilities?.bounding ?? [],
    noNewPrivileges: spec.process.noNewPrivileges ?? false,
    maskedPaths: spec.linux.maskedPaths ?? [],
    readonlyPaths: spec.linux.readonlyPaths ?? [],
    rootReadonly: spec.root.readonly ?? false,
  };
}

export function boxInfoView({ box, plugins, details, recentEvents }: BoxInfoInputs) {
  const spec = box.runtime.spec as OciSpec | undefined;
  return {
    ...summarize(box),
    createdAt: new Date(box.createdAt).toISOString(),
    config: box.config,
    plugins: plugins.map((plugin) => `${plugin.name}@${plugin.version}`),
    // Said plainly: without the isolation plugin, a box's root is the host's root.
    ...(plugins.some((plugin) => plugin.name === 'isolation') ? {} : { isolation: ISOLATION_OFF }),
    ...(spec ? { effective: effectivePolicy(spec) } : {}),
    ...(Object.keys(details).length > 0 ? { details } : {}),
    recentEvents: recentEvents.map((event) => `${new Date(event.time).toISOString()} ${event.kind}`),
  };
}

export function renderBoxInfo(result: unknown): string {
  return Object.entries(result as Record<string, unknown>)
    .map(([key, value]) => `${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
    .join('\n');
}
