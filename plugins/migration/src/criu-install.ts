/**
 * Where criu is: the private prefix `scripts/criu.mjs` fills (trixie's criu with its library
 * closure, run through the prefix's own loader). The prefix's record says how to call it, so
 * this file knows no layout of its own.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_CRIU_PREFIX = '/var/lib/nsbox/criu';
const MARKER = 'nsbox-criu.json';

interface Record {
  version: string;
  suite?: string;
  command: { loader: string; libraryPath: string[]; criu: string };
}

export interface CriuInstall {
  prefix: string;
  version: string;
  /** The executable to run (the loader) and the arguments that come before criu's own. */
  file: string;
  args: string[];
}

export type CriuLookup = { found: true; install: CriuInstall } | { found: false; prefix: string; reason: string };

/** The prefix named by the host setting, NSBOX_CRIU_PREFIX, or the default — in that order. */
export function criuPrefix(setting?: string): string {
  return setting ?? process.env.NSBOX_CRIU_PREFIX ?? DEFAULT_CRIU_PREFIX;
}

export function findCriu(prefix: string): CriuLookup {
  const marker = join(prefix, MARKER);
  const hint = 'install it with `node scripts/setup.mjs` (or `node scripts/criu.mjs`) in the nsbox tree';
  if (!existsSync(marker)) return { found: false, prefix, reason: `no criu in ${prefix}: ${hint}` };
  let record: Record;
  try {
    record = JSON.parse(readFileSync(marker, 'utf8')) as Record;
  } catch (error) {
    return { found: false, prefix, reason: `unreadable ${marker} (${(error as Error).message}): ${hint}` };
  }
  const { loader, libraryPath, criu } = record.command ?? {};
  if (!loader || !criu || !Array.isArray(libraryPath)) return { found: false, prefix, reason: `${marker} names no criu command: ${hint}` };
  return {
    found: true,
    install: {
      prefix,
      version: record.version,
      file: join(prefix, loader),
      args: ['--library-path', libraryPath.map((dir) => join(prefix, dir)).join(':'), join(prefix, criu)],
    },
  };
}
