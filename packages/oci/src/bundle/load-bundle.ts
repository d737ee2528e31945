/** Reads a bundle: its config.json, checked field by field, with paths made absolute. */

import { lstatSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { NsboxError, type OciSpec } from '@nsbox/core';
import { checkSpec } from './spec-support.js';

export interface Bundle {
  /** Absolute path of the bundle directory. */
  dir: string;
  /** config.json, checked; root.path and relative bind sources resolved against the bundle. */
  spec: OciSpec;
}

/** `config`: crun's --config, config.json's path (relative to the bundle). */
export function loadBundle(bundle: string, cwd: string, config = 'config.json'): Bundle {
  const dir = resolve(cwd, bundle);
  const file = resolve(dir, config);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new NsboxError('E_INVALID_ARGUMENT', `JSON specification file ${config} not found in bundle ${dir}`, { details: { field: 'bundle' } });
    throw new NsboxError('E_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { details: { field: 'bundle' } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new NsboxError('E_INVALID_CONFIG', `${file} is not valid JSON: ${(error as Error).message}`, { details: { field: 'config.json' } });
  }
  const spec = checkSpec(raw);
  spec.root.path = checkRootfs(resolve(dir, spec.root.path));
  for (const mount of spec.mounts ?? []) {
    const bind = mount.type === 'bind' || (mount.options ?? []).some((option) => option === 'bind' || option === 'rbind');
    if (bind && mount.source && !isAbsolute(mount.source)) mount.source = resolve(dir, mount.source);
  }
  spec.mounts ??= [];
  return { dir, spec };
}

/** The rootfs must be a real directory: a symlink could point the box anywhere on the host. */
function checkRootfs(path: string): string {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    throw new NsboxError('E_INVALID_CONFIG', `rootfs (${path}) does not exist`, { details: { field: 'root.path' } });
  }
  if (stat.isSymbolicLink())
    throw new NsboxError('E_INVALID_CONFIG', `rootfs (${path}) is a symlink: give the real directory`, { details: { field: 'root.path' } });
  if (!stat.isDirectory()) throw new NsboxError('E_INVALID_CONFIG', `rootfs (${path}) is not a directory`, { details: { field: 'root.path' } });
  return path;
}
