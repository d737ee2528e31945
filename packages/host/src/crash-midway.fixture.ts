/**
 * Run in a child process by box-lifecycle.test.ts: dies by SIGKILL in the middle of a start,
 * in beta's prepare — as it begins (`between`: after alpha's prepare, before beta did anything)
 * or once it has left its marker (`inside`: before the step is recorded done).
 */

import { openHost } from './open-host.js';
import { MemoryDriver, recordingPlugin } from './test-fixtures.js';

const [stateDir, markerDir, where] = process.argv.slice(2) as [string, string, 'between' | 'inside'];
const crash = where === 'inside' ? { crashAfter: 'prepare' as const, markerDir } : { crashOn: 'prepare' as const };
const journal: string[] = [];
const host = await openHost({
  stateDir,
  discover: false,
  driver: new MemoryDriver(),
  plugins: [recordingPlugin('alpha', journal, { markerDir }), recordingPlugin('beta', journal, { requires: { alpha: '^1.0.0' }, ...crash })],
});
await host.manager.create({ name: 'crashy', config: {} });
await host.manager.start('crashy');
console.error('not reached: beta:prepare kills the process');
