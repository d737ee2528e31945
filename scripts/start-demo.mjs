#!/usr/bin/env node
// `npm start`: after set-up, make sure nsboxd runs on its embedded default (SQLite in the
// state directory, the unix socket /run/nsbox/nsbox.sock) — started in the background when
// it does not — then make sure a demo box from the busybox template runs, through the API,
// bridged with an address of its own (the network plugin: a pool made when there is none,
// the bridge made at the box's start), serving a page with busybox httpd and forwarded a host
// port; show the page fetched from the host through the box's address and through the
// forward, and how to reach everything. Idempotent: a second run finds the daemon, the pool,
// the box, its server and its forward. A demo box from before networking is stopped, bridged
// and started again.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.env.NSBOX_DEMO_BOX ?? 'demo';
const stateDir = resolve(process.env.NSBOX_STATE_DIR ?? '/var/lib/nsbox');
const socketPath = process.env.NSBOX_SOCKET ?? '/run/nsbox/nsbox.sock';
const logFile = join(stateDir, 'nsboxd.log');
/** The pool made when the host has none, and the host port forwarded to the box's port 80. */
const demoSubnet = process.env.NSBOX_DEMO_SUBNET ?? '10.213.0.0/24';
const demoPort = Number(process.env.NSBOX_DEMO_PORT ?? 8480);

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

/** The host's network settings (host.json): where the host side of box networking lives. */
function networkSettings() {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'host.json'), 'utf8')).settings?.network ?? {};
  } catch {
    return {};
  }
}

/** A pool to draw the demo box's address from: the host's first shared IPv4 pool, or one made now. */
async function ensurePool() {
  const pools = await client.actions.run('network', 'pool-list', {});
  const shared = pools.find((pool) => !pool.tenant && !pool.subnet.includes(':'));
  if (shared) return shared;
  console.log(`making the address pool 'demo' (${demoSubnet}) for bridged boxes`);
  return client.actions.run('network', 'pool-create', { name: 'demo', subnet: demoSubnet });
}

// The demo box's page, and busybox httpd serving it (started again when it is not running).
const serve = 'mkdir -p /var/www; echo "hello from nsbox box $(hostname)" > /var/www/index.html; pidof httpd >/dev/null || httpd -p 80 -h /var/www';

/** GET / of ADDR:PORT from the host side (its namespace when settings.network.netns names one): the body, or undefined. */
function fetchFromHost(address, port) {
  const host = address.includes(':') ? `[${address}]` : address;
  const script = `printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | busybox nc -w 2 ${address} ${port}`;
  const netns = networkSettings().netns;
  const [command, args] = netns ? ['nsenter', [`--net=${netns}`, 'sh', '-c', script]] : ['sh', ['-c', script]];
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  if (result.status !== 0 || !/^HTTP\/1\.[01] 200/.test(result.stdout)) return undefined;
  return result.stdout
    .split(/\r?\n\r?\n/)
    .slice(1)
    .join('\n\n')
    .trim();
}

async function fetchWithRetries(address, port) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const body = fetchFromHost(address, port);
    if (body !== undefined) return body;
    await new Promise((done) => setTimeout(done, 150));
  }
  return undefined;
}

try {
  const pool = await ensurePool();
  const existing = (await client.boxes.list()).find((box) => box.name === name);
  if (!existing) {
    console.log(`creating box '${name}' from the busybox template through the API, bridged with an address of pool '${pool.name}'`);
    const operation = await client.boxes.create({ name, config: { template: 'busybox', network: { mode: 'bridge' } }, start: true });
    let shown = '';
    await operation.wait({
      onProgress: (op) => {
        const line = op.progress ? `  ${op.progress.message ?? op.progress.step}${op.progress.percent !== undefined ? ` ${op.progress.percent}%` : ''}` : '';
        if (!line || line === shown) return;
        shown = line;
        console.log(line);
      },
    });
  } else {
    if (!['bridge', 'routed'].includes(existing.config.network?.mode)) {
      // A demo box from before networking: its mode changes only while it is stopped.
      console.log(`giving box '${name}' a network of its own (bridged)`);
      if (existing.state === 'running') await client.boxes.stop(name);
      await client.boxes.update(name, { network: { ...existing.config.network, mode: 'bridge' } });
    }
    if ((await client.boxes.get(name)).state !== 'running') {
      console.log(`starting box '${name}'`);
      await client.boxes.start(name);
    }
  }
  const served = await client.boxes.exec(name, { command: ['sh', '-c', serve] });
  if (served.exitCode !== 0) fail(`busybox httpd did not start in box '${name}': ${served.stderr}`);
  const forward = `${demoPort}:80/tcp`;
  if (!(await client.actions.run('network', 'forward-list', { box: name })).includes(forward)) {
    try {
      await client.actions.run('network', 'forward-add', { box: name, forward });
    } catch (error) {
      if (!isNsboxApiError(error) || error.code !== 'E_ALREADY_EXISTS') throw error;
      console.log(`host port ${demoPort} is forwarded to another box already; set NSBOX_DEMO_PORT to forward another`);
    }
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
  const network = (await client.boxes.details(name)).network ?? {};
  const address = network.addresses?.find((cidr) => !cidr.includes(':'))?.split('/')[0];
  const gateway = network.gateways?.find((candidate) => !candidate.includes(':'));
  if (!address || !gateway) fail(`box '${name}' has no IPv4 address: ${JSON.stringify(network)}`);
  const direct = await fetchWithRetries(address, 80);
  const forwarded = (network.forwards ?? []).includes(forward) ? await fetchWithRetries(gateway, demoPort) : undefined;
  const where = networkSettings().netns ? ` (in ${networkSettings().netns})` : '';
  console.log(`its network: ${network.addresses.join(', ')} on bridge ${network.bridge}, forwards ${(network.forwards ?? []).join(', ') || 'none'}`);
  const answer = (body) => (body === undefined ? 'no answer' : `answers: ${body}`);
  console.log(`  from the host${where}, through its address: http://${address}/ ${answer(direct)}`);
  if ((network.forwards ?? []).includes(forward)) {
    console.log(`  from the host${where}, through the port forward: http://${gateway}:${demoPort}/ ${answer(forwarded)}`);
  }
  if (direct === undefined) fail(`box '${name}' did not answer at ${address}:80 from the host`);
  if ((network.forwards ?? []).includes(forward) && forwarded === undefined) fail(`box '${name}' did not answer through the forward ${gateway}:${demoPort}`);
  console.log('');
  console.log(`nsboxd: socket ${socketPath} (mode 0660, group nsbox), admin token in ${tokenFile}, state in ${stateDir}`);
  console.log(`  curl --unix-socket ${socketPath} -H "Authorization: Bearer $(cat ${tokenFile})" http://nsbox/boxes`);
  console.log(`  curl --unix-socket ${socketPath} http://nsbox/openapi.json        # the API, no token needed`);
  console.log('the CLI goes through nsboxd while it runs (and works alone when it does not):');
  console.log(`  npx nsbox list                     npx nsbox exec ${name} -- ps`);
  console.log(`  npx nsbox enter ${name}                npx nsbox stop ${name} && npx nsbox destroy ${name}`);
  console.log(`  npx nsbox info ${name}                 npx nsbox net forward list ${name}       npx nsbox net pool list`);
  console.log(`stop nsboxd (the boxes keep running): kill $(node -p "require('${join(stateDir, 'nsboxd.json')}').pid")`);
} catch (error) {
  fail(isNsboxApiError(error) ? `${error.message} [${error.code}]` : error.message);
} finally {
  client.close();
}
