/**
 * Escapes through the network: a box with its own network namespace reaching the host's
 * interfaces, and a box on the host's stack (IP confinement, VServer's chbind rebuilt on
 * cgroup BPF) binding or sending from an address that is not its own. Loopback only.
 */

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { requireRoot } from '@nsbox/testkit';
import { attack, inBox } from '../box-kit.js';
import { attempt, type EscapeBoxes, escapeBoxes, removeEscapeBoxes } from './escape-kit.js';

const port = () => String(randomInt(40_000, 60_000));

describe('escape suite: network', function () {
  this.timeout(120_000);
  let boxes: EscapeBoxes | undefined;
  let server: Server | undefined;
  let udp: Socket | undefined;
  const tcpPeers: string[] = [];
  const udpPeers: string[] = [];

  before(async function () {
    requireRoot(this, 'the escape suite');
    boxes = await escapeBoxes({
      private: {},
      confined: { isolation: { namespaces: { network: 'host' }, ipConfinement: { addresses: ['127.0.0.2'] } } },
    });
    // Host services on the host's loopback, recording who connects.
    server = createServer((socket) => {
      tcpPeers.push(socket.remoteAddress ?? '?');
      socket.destroy();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    udp = createSocket('udp4');
    udp.on('message', (_message, remote) => udpPeers.push(remote.address));
    await new Promise<void>((resolve) => udp?.bind(0, '127.0.0.1', resolve));
  });

  after(async () => {
    server?.close();
    udp?.close();
    await removeEscapeBoxes(boxes);
  });

  const kit = () => (boxes as EscapeBoxes).kit;
  const tcpPort = () => String(((server as Server).address() as { port: number }).port);
  const udpPort = () => String((udp as Socket).address().port);

  attempt("use the host's network interfaces from a box with its own network namespace", async () => {
    const links = await inBox(kit(), 'private', 'ip -o link | cut -d: -f2');
    assert.deepEqual(
      links.stdout
        .trim()
        .split('\n')
        .map((name) => name.trim()),
      ['lo'],
      'it has only a loopback of its own',
    );
    assert.match(await attack(kit(), 'private', 'net', 'connect', '127.0.0.1', tcpPort()), /^err (ENETUNREACH|ECONNREFUSED)$/);
    assert.match(await attack(kit(), 'private', 'net', 'udp', '127.0.0.1', udpPort()), /^err ENETUNREACH$|^ok /);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(tcpPeers, [], 'the host service saw nobody');
    assert.deepEqual(udpPeers, []);
  });

  attempt("bind to a host address outside the box's set (shared stack)", async () => {
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '127.0.0.3', port()), 'err EPERM');
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '127.0.0.1', port()), 'err EPERM', "the host's own loopback address");
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '::1', port()), 'err EPERM', 'no IPv6 address is the box');
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '::ffff:127.0.0.3', port()), 'err EPERM', 'nor through a v4-mapped address');
    // The wildcard is the box's address.
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '0.0.0.0', port()), 'ok 127.0.0.2');
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '::', port()), 'ok ::ffff:127.0.0.2');
    assert.equal(await attack(kit(), 'confined', 'net', 'bind', '127.0.0.2', port()), 'ok 127.0.0.2');
  });

  attempt('send from a host address outside the box (shared stack)', async () => {
    assert.equal(await attack(kit(), 'confined', 'net', 'connect', '127.0.0.1', tcpPort()), 'ok 127.0.0.2');
    assert.match(await attack(kit(), 'confined', 'net', 'udp', '127.0.0.1', udpPort()), /^ok /);
    assert.equal(await attack(kit(), 'confined', 'net', 'connect', '::1', tcpPort()), 'err EPERM', 'no IPv6 source to leave from');
    assert.equal(await attack(kit(), 'confined', 'raw'), 'err EPERM', 'no raw socket to forge a source with');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(tcpPeers, ['127.0.0.2'], 'the host service saw the box address');
    assert.deepEqual(udpPeers, ['127.0.0.2']);
  });
});
