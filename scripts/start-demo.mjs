#!/usr/bin/env node
// `npm start`: after set-up, make sure nsboxd runs on its embedded default (SQLite in the
// state directory, the unix socket /run/nsbox/nsbox.sock) — started in the background when
// it does not — then make sure a demo box from the busybox template runs, through the API,
// and show how to reach both. Idempotent: a second run finds the daemon and the box.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.env.NSBOX_DEMO_BOX ?? 'demo';
const stateDir = resolve(process.env.NSBOX_STATE_DIR ?? '/var/lib/nsbox');
const socketPath = process.env.NSBOX_SOCKET ?? '/run/nsbox/nsbox.sock';
const logFile = join(stateDir, 'nsboxd.log');

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

function healthy() {
  return new Promise((done) => {
    if (!existsSync(socketPath)) return done(false);
    const req = request({ socketPath, path: '/health', timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

async function ensureDaemon() {
  if (await healthy()) {
    console.log(`nsboxd is running on ${socketPath}`);
    return;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log = openSync(logFile, 'a');
  // Detached, in its own session: it outlives this script, as the boxes outlive it.
  const child = spawn(process.execPath, [join(repo, 'packages/daemon/bin/nsboxd.js'), '--state-dir', stateDir, '--socket', socketPath], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!(await healthy())) {
    if (child.exitCode !== null || Date.now() > deadline) fail(`nsboxd did not start; see ${logFile}`);
    await new Promise((done) => setTimeout(done, 200));
  }
  console.log(`started nsboxd (pid ${child.pid}) on ${socketPath}; its log: ${logFile}`);
}

await ensureDaemon();
const { NsboxClient, isNsboxApiError } = await import(join(repo, 'packages/client/dist/index.js'));
const tokenFile = join(stateDir, 'admin.token');
const client = new NsboxClient({ socketPath, token: process.env.NSBOX_TOKEN ?? readFileSync(tokenFile, 'utf8').trim() });

try {
  const existing = (await client.boxes.list()).find((box) => box.name === name);
  if (!existing) {
    console.log(`creating box '${name}' from the busybox template through the API`);
    const operation = await client.boxes.create({ name, config: { template: 'busybox' }, start: true });
    let shown = '';
    await operation.wait({
      onProgress: (op) => {
        const line = op.progress ? `  ${op.progress.message ?? op.progress.step}${op.progress.percent !== undefined ? ` ${op.progress.percent}%` : ''}` : '';
        if (!line || line === shown) return;
        shown = line;
        console.log(line);
      },
    });
  } else if (existing.state !== 'running') {
    console.log(`starting box '${name}' (${existing.state})`);
    await client.boxes.start(name);
  }

  const boxes = await client.boxes.list();
  console.log('');
  console.log('NAME'.padEnd(16) + 'STATE'.padEnd(10) + 'PID'.padEnd(8) + 'OWNER');
  for (const box of boxes) console.log(box.name.padEnd(16) + box.state.padEnd(10) + String(box.runtime.init?.pid ?? '-').padEnd(8) + (box.owner ?? '-'));
  const inside = await client.boxes.exec(name, {
    command: [
      'sh',
      '-c',
      'echo "  hostname:  $(hostname)"; echo "  pid 1:     $(cat /proc/1/cmdline | tr "\\0" " ")"; echo "  processes: $(ls -d /proc/[0-9]* | wc -l)"',
    ],
  });
  console.log(`\ninside box '${name}' (through POST /boxes/${name}/exec):\n${inside.stdout}`);
  console.log(`nsboxd: socket ${socketPath} (mode 0660, group nsbox), admin token in ${tokenFile}, state in ${stateDir}`);
  console.log(`  curl --unix-socket ${socketPath} -H "Authorization: Bearer $(cat ${tokenFile})" http://nsbox/boxes`);
  console.log(`  curl --unix-socket ${socketPath} http://nsbox/openapi.json        # the API, no token needed`);
  console.log('the CLI goes through nsboxd while it runs (and works alone when it does not):');
  console.log(`  npx nsbox list                     npx nsbox exec ${name} -- ps`);
  console.log(`  npx nsbox enter ${name}                npx nsbox stop ${name} && npx nsbox destroy ${name}`);
  console.log(`stop nsboxd (the boxes keep running): kill $(node -p "require('${join(stateDir, 'nsboxd.json')}').pid")`);
} catch (error) {
  fail(isNsboxApiError(error) ? `${error.message} [${error.code}]` : error.message);
} finally {
  client.close();
}
