/** A real host (SQLite store, plugin host, box manager) on a temporary state directory. */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NsboxHost, type OpenHostOptions, openHost } from '@nsbox/host';
import type { Cleanup } from './cleanup.js';

export const TEST_PREFIX = 'nsbox-test-';

export function makeTempDir(cleanup: Cleanup, label = 'dir'): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEST_PREFIX}${label}-`));
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestHostOptions extends Omit<OpenHostOptions, 'stateDir'> {
  /** Reuse a state dir (to reopen the same host, as after a restart). */
  stateDir?: string;
}

/** Opens a host with only the plugins given (no discovery unless asked) and closes it after the test. */
export async function createTestHost(cleanup: Cleanup, options: TestHostOptions = {}): Promise<NsboxHost> {
  const stateDir = options.stateDir ?? makeTempDir(cleanup, 'state');
  const host = await openHost({ discover: false, ...options, stateDir });
  cleanup.add(`close host ${stateDir}`, () => host.close());
  return host;
}
