/** Where a host keeps its state: --state-dir, then NSBOX_STATE_DIR, then /var/lib/nsbox. */

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/nsbox';

export function resolveStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.NSBOX_STATE_DIR ?? DEFAULT_STATE_DIR);
}

export function ensureStateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
