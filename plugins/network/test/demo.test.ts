/**
 * `npm start`'s demo (scripts/start-demo.mjs) with a state directory, socket and cgroup parent
 * of the test's own and the host side of box networking in a test network namespace: the demo
 * box gets an address, and the demo shows its page fetched from the host side through that
 * address and through a forwarded port. A second run finds everything in place and makes
 * nothing. Needs the packages built (`npm test` runs the set-up first): the demo runs nsboxd
 * and the SDK from their dist/.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeCgroupsAfter, requireRoot, useCleanup } from '@nsbox/testkit';
import { makeTestNet } from './support.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('network: the npm start demo', function () {
  this.timeout(240_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'the npm start demo');
    for (const built of ['packages/daemon/dist/main.js', 'packages/client/dist/index.js', 'plugins/network/dist/index.js']) {
      if (!existsSync(join(repo, built))) throw new Error(`${built} is not built: run npm run setup first`);
    }
  });

  it('bridges the demo box, and its page answers from the host side through its address and a port forward; a second run makes nothing', () => {
    const net = makeTestNet(cleanup);
    const stateDir = makeTempDir(cleanup, 'demo');
    const socket = join(stateDir, 'nsbox.sock');
    const cgroupParent = `nsbox-test-demo-${net.bridge.slice(4)}`;
    writeFileSync(
      join(stateDir, 'host.json'),
      JSON.stringify({ settings: { network: { netns: net.hostPath, bridge: net.bridge, nameservers: ['10.214.0.1'] } } }),
    );
    removeCgroupsAfter(cleanup, cgroupParent);
    cleanup.add('stop the demo nsboxd', async () => {
      const record = join(stateDir, 'nsboxd.json');
      if (!existsSync(record)) return;
      const pid = (JSON.parse(readFileSync(record, 'utf8')) as { pid: number }).pid;
      // The box first, through the daemon, then the daemon.
      const { NsboxClient } = (await import(join(repo, 'packages/client/dist/index.js'))) as typeof import('@nsbox/client');
      const client = new NsboxClient({ socketPath: socket, token: readFileSync(join(stateDir, 'admin.token'), 'utf8').trim() });
      try {
        await client.boxes.destroy('demo', { force: true }).catch(() => undefined);
      } finally {
        client.close();
        process.kill(pid, 'SIGTERM');
      }
    });
    const env = {
      ...process.env,
      NSBOX_STATE_DIR: stateDir,
      NSBOX_SOCKET: socket,
      NSBOX_CGROUP_PARENT: cgroupParent,
      NSBOX_DEMO_SUBNET: '10.214.0.0/24',
      NSBOX_DEMO_PORT: '8481',
    };
    const demo = () => spawnSync(process.execPath, [join(repo, 'scripts/start-demo.mjs')], { env, encoding: 'utf8', timeout: 180_000 });

    const first = demo();
    assert.equal(first.status, 0, `npm start's demo failed: ${first.stdout}${first.stderr}`);
    assert.match(first.stdout, /making the address pool 'demo' \(10\.214\.0\.0\/24\)/);
    assert.match(first.stdout, /its network: 10\.214\.0\.2\/24 on bridge nsbt\w+, forwards 8481:80\/tcp/);
    assert.match(first.stdout, /through its address: http:\/\/10\.214\.0\.2\/ answers: hello from nsbox box demo/);
    assert.match(first.stdout, /through the port forward: http:\/\/10\.214\.0\.1:8481\/ answers: hello from nsbox box demo/);
    // The bridge was made in the test's host namespace, and the page answers there without the demo too.
    const page = execFileSync('ip', ['netns', 'exec', net.hostNs, 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 10.214.0.2 80"], {
      encoding: 'utf8',
    });
    assert.match(page, /hello from nsbox box demo/);

    const second = demo();
    assert.equal(second.status, 0, `the second run failed: ${second.stdout}${second.stderr}`);
    assert.match(second.stdout, /nsboxd is running on/);
    assert.doesNotMatch(second.stdout, /making the address pool|creating box|starting box/, 'a second run makes nothing');
    assert.match(second.stdout, /through the port forward: http:\/\/10\.214\.0\.1:8481\/ answers: hello from nsbox box demo/);
  });
});
