#!/usr/bin/env node
// `npm start`: after set-up, make sure a demo box from the busybox template is running and
// show it. Idempotent: an existing demo box is started if stopped, and shown either way.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'packages/cli/bin/nsbox.js');
const name = process.env.NSBOX_DEMO_BOX ?? 'demo';

function nsbox(args, { capture = false } = {}) {
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  return { code: result.status ?? 1, stdout: result.stdout ?? '' };
}

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

const listed = nsbox(['list', '--json'], { capture: true });
if (listed.code !== 0) fail('cannot list boxes');
const existing = JSON.parse(listed.stdout).find((box) => box.name === name);

if (!existing) {
  console.log(`creating box '${name}' from the busybox template`);
  if (nsbox(['create', name, '--template', 'busybox']).code !== 0) fail(`cannot create box '${name}'`);
}
if (existing?.state !== 'running') {
  if (nsbox(['start', name]).code !== 0) fail(`cannot start box '${name}'`);
}

console.log('');
nsbox(['list']);
console.log('');
console.log(`inside box '${name}':`);
nsbox([
  'exec',
  name,
  '--',
  'sh',
  '-c',
  'echo "  hostname: $(hostname)"; echo "  pid 1:    $(cat /proc/1/cmdline | tr "\\0" " ")"; echo "  my pid:   $$"; echo "  processes: $(ls -d /proc/[0-9]* | wc -l)"',
]);
console.log('');
console.log(`enter it:    npx nsbox enter ${name}`);
console.log(`run in it:   npx nsbox exec ${name} -- ps`);
console.log(`stop it:     npx nsbox stop ${name} && npx nsbox destroy ${name}`);
