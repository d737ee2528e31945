/**
 * The box's root for a restore, as the launcher mounted it for the start. A checkpoint
 * engine restores the root from a path and binds it as it is; the launcher made it a tree
 * of its own (idmapped with the box's maps, nosuid/nodev). `nsbox-idmap-root` makes the same
 * mount at a path in a mount namespace of the engine's own, then runs the engine there.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OciSpec } from '@nsbox/core';
import { idmapRootPath } from '@nsbox/native';
import { launchContributions } from '@nsbox/runtime-api';
import { idMapText, rootTreeFlags } from './spec-compiler.js';

export interface RestoreRoot {
  path: string;
  wrapper: string[];
}

export function restoreRoot(spec: OciSpec, boxDir: string): RestoreRoot {
  const userns = spec.linux.namespaces.some((namespace) => namespace.type === 'user' && !namespace.path);
  const flags = rootTreeFlags(spec, userns) ?? (launchContributions(spec).rootfsOptions ?? []).join(',');
  if (!flags) return { path: spec.root.path, wrapper: [] };
  // As the launcher does: without mappings, the box's root is the host's root.
  const own = [{ containerID: 0, hostID: 0, size: 1 }];
  const uidMappings = spec.linux.uidMappings?.length ? spec.linux.uidMappings : own;
  const gidMappings = spec.linux.gidMappings?.length ? spec.linux.gidMappings : own;
  const path = join(boxDir, 'restore-root');
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return { path, wrapper: [idmapRootPath, spec.root.path, path, idMapText(uidMappings, 'uid'), idMapText(gidMappings, 'gid'), flags] };
}
