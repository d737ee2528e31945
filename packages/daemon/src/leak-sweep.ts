/**
 * After reconcile: a box directory that no box in the store accounts for is a leftover of a
 * process killed mid-create (a template copy that never became a box), and goes. Box rows
 * are written before their directory is made and removed after it is, so "no row" means
 * "nobody's", even with a CLI working alongside. (Cgroups are left to the driver's
 * reconcile, which only touches known boxes: other state directories may share the parent.)
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import { MountBelowError, removeTreeSync } from '@nsbox/runtime';

export interface SweepResult {
  boxDirs: string[];
  skipped: string[];
}

function mountPointsUnder(dir: string): string[] {
  const prefix = `${dir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(prefix));
}

export function sweepLeftovers(input: { stateDir: string; boxes: Box[] }): SweepResult {
  const known = new Set(input.boxes.map((box) => box.id));
  const result: SweepResult = { boxDirs: [], skipped: [] };
  const boxesDir = join(input.stateDir, 'boxes');
  for (const entry of existsSync(boxesDir) ? readdirSync(boxesDir) : []) {
    if (known.has(entry)) continue;
    const dir = join(boxesDir, entry);
    // Something still mounted there is not ours to delete through.
    if (mountPointsUnder(dir).length > 0) {
      result.skipped.push(dir);
      continue;
    }
    try {
      removeTreeSync(dir);
    } catch (error) {
      if (!(error instanceof MountBelowError)) throw error;
      result.skipped.push(dir); // mounted there since the check above
      continue;
    }
    result.boxDirs.push(entry);
  }
  return result;
}
