/**
 * A test seam for the crash tests: `NSBOX_MIGRATION_PAUSE_AT=PHASE` (`source:transfer`,
 * `target:restored`, ...) makes the migration, once it has recorded that phase, write the phase
 * to `STATE/migration/paused` and wait for ever — the test then kills nsboxd with SIGKILL, a
 * real crash at a known point. Unset (as everywhere but those tests), it does nothing.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxFilesService } from '@nsbox/runtime-api';
import { migrationDir } from './box-transfer.js';

export const PAUSE_VARIABLE = 'NSBOX_MIGRATION_PAUSE_AT';

export async function pausePoint(files: BoxFilesService, phase: string): Promise<void> {
  if (process.env[PAUSE_VARIABLE] !== phase) return;
  writeFileSync(join(migrationDir(files, '.'), 'paused'), phase);
  await new Promise(() => undefined);
}
