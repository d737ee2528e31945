/**
 * The host config (`<state-dir>/host.json`, or the file given with --host-config): which
 * plugins this host loads, where to look for installed plugin packages, which to disable.
 *
 *   { "plugins": ["@nsbox/plugin-isolation", "/opt/my-plugin/dist/index.js"],
 *     "pluginPaths": ["/usr/lib/nsbox/node_modules"],
 *     "disabled": ["migration"],
 *     "settings": { "isolation": { "realtimeScheduling": false } } }
 *
 * `settings` holds each plugin's host-wide settings under its name (the admin's, never a
 * box's); the plugin reads and checks its own part (its `hostSettings` schema, or `coreRefs.hostSettings`).
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, z } from '@nsbox/core';

export const hostConfigSchema = z.strictObject({
  plugins: z.array(z.string().min(1)).default([]),
  pluginPaths: z.array(z.string().startsWith('/', 'must be an absolute path')).default([]),
  disabled: z.array(z.string()).default([]),
  /** Skip scanning the default node_modules folders for plugin packages. */
  discover: z.boolean().default(true),
  settings: z.record(z.string(), z.unknown()).default({}),
});

export type HostConfig = z.output<typeof hostConfigSchema>;

export function loadHostConfig(stateDir: string, explicitFile?: string): HostConfig {
  const file = explicitFile ?? join(stateDir, 'host.json');
  if (!existsSync(file)) {
    if (explicitFile) throw new NsboxError('E_NOT_FOUND', `host config ${explicitFile} does not exist`);
    return hostConfigSchema.parse({});
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new NsboxError('E_INVALID_CONFIG', `host config ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = hostConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }));
    throw new NsboxError('E_INVALID_CONFIG', `host config ${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { issues } });
  }
  return parsed.data;
}
