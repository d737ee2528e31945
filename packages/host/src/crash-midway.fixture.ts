/** Run in a child process by box-lifecycle.test.ts: dies by SIGKILL in the middle of a start. */

import { openHost } from './open-host.js';
import { MemoryDriver, recordingPlugin } from './test-fixtures.js';

const [stateDir, markerDir] = process.argv.slice(2) as [string, string];
const journal: string[] = [];
const host = await openHost({
  stateDir,
  discover: false,
  driver: new MemoryDriver(),
  plugins: [recordingPlugin('alpha', journal, { markerDir }), recordingPlugin('beta', journal, { requires: { alpha: '^1.0.0' }, crashOn: 'prepare' })],
});
await host.manager.create({ name: 'crashy', config: {} });
await host.manager.start('crashy');
console.error('not reached: beta:prepare kills the process');
