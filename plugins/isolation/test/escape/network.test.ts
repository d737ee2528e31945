/**
 * Escapes through the network: a box with its own network namespace reaching the host's
 * interfaces or its abstract unix sockets, and a box on the host's stack (IP confinement,
 * VServer's chbind rebuilt on cgroup BPF: the network plugin's mode `shared`) binding or
 * sending from an address that is not its own, or forging one with a raw socket. Loopback
 * only. Each attack has its control.
 */

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { AnyPlugin } from '@nsbox/core';
import { networkPlugin } from '@nsbox/plugin-network';
import { requireRoot } from '@nsbox/testkit';
import { escapeSuite } from './escape-kit.js';

const port = () => String(randomInt(40_000, 60_000));

const hostStack = { isolation: { namespaces: { network: 'host' } } };
const privilegedHostStack = { isolation: { privileged: true, namespaces: { network: 'host' } } };
/** Confined to 127.0.0.2 on the host's stack: the network plugin owns IP confinement. */
const confinedTo = { network: { mode: 'shared', ip: ['127.0.0.2'] } };

describe('escape suite: network', () => {
  let server: Server | undefined;
  let abstract: Server | undefined;
  let udp: Socket | undefined;
  const tcpPeers: string[] = [];
  const udpPeers: string[] = [];
  const abstractName = `nsbox-escape-${randomBytes(4).toString('hex')}`;

  before(async function () {
    requireRoot(this, 'the escape suite');
    // Host services on the host's loopback and an abstract unix socket, recording who connects.
    server = createServer((socket) => {
      tcpPeers.push(socket.remoteAddress ?? '?');
      socket.destroy();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    abstract = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => abstract?.listen(`\0${abstractName}`, resolve));
    udp = createSocket('udp4');
    udp.on('message', (_message, remote) => udpPeers.push(remote.address));
    await new Promise<void>((resolve) => udp?.bind(0, '127.0.0.1', resolve));
  });

  const suite = escapeSuite(
    {
      target: {},
      confined: { ...hostStack, ...confinedTo },
      'privileged-confined': { ...privilegedHostStack, ...confinedTo },
    },
    { plugins: [networkPlugin as AnyPlugin] },
  );

  after(() => {
    server?.close();
    abstract?.close();
    udp?.close();
  });

  const tcpPort = () => String(((server as Server).address() as { port: number }).port);
  const udpPort = () => String((udp as Socket).address().port);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  suite.attempt({
    class: 'host network from a private namespace',
    title: 'reach a host service from a box with its own network namespace',
    attack: (on) => on.run('net', 'connect', '127.0.0.1', tcpPort()),
    control: { config: hostStack },
    blocked: async (line, on) => {
      assert.match(line, /^err (ENETUNREACH|ECONNREFUSED)$/);
      const links = await on.sh('ip -o link | cut -d: -f2');
      assert.deepEqual(
        links.stdout
          .trim()
          .split('\n')
          .map((name) => name.trim()),
        ['lo'],
        'it has only a loopback of its own',
      );
      assert.match(await on.run('net', 'udp', '127.0.0.1', udpPort()), /^err ENETUNREACH$|^ok /);
      await settle();
      assert.ok(!tcpPeers.includes('127.0.0.2'), 'no confined box was asked to connect yet');
      assert.deepEqual(udpPeers, [], 'the host UDP service saw nobody');
    },
  });

  suite.attempt({
    class: 'abstract unix sockets',
    title: "connect to the host's abstract unix socket from a box with its own network namespace",
    attack: (on) => on.run('abstract', abstractName),
    // Abstract names belong to the network namespace: on the host's stack the box reaches it.
    control: { config: hostStack },
    blocked: (line) => assert.equal(line, 'err ECONNREFUSED'),
  });

  suite.attempt({
    class: 'IP confinement',
    title: "bind to a host address outside the box's set (shared stack)",
    on: 'confined',
    attack: (on) => on.run('net', 'bind', '127.0.0.3', port()),
    control: { config: hostStack },
    blocked: async (line, on) => {
      assert.equal(line, 'err EPERM');
      assert.equal(await on.run('net', 'bind', '127.0.0.1', port()), 'err EPERM', "the host's own loopback address");
      assert.equal(await on.run('net', 'bind', '::1', port()), 'err EPERM', 'no IPv6 address is the box');
      assert.equal(await on.run('net', 'bind', '::ffff:127.0.0.3', port()), 'err EPERM', 'nor through a v4-mapped address');
      // The wildcard is the box's address.
      assert.equal(await on.run('net', 'bind', '0.0.0.0', port()), 'ok 127.0.0.2');
      assert.equal(await on.run('net', 'bind', '::', port()), 'ok ::ffff:127.0.0.2');
      assert.equal(await on.run('net', 'bind', '127.0.0.2', port()), 'ok 127.0.0.2');
    },
  });

  suite.attempt({
    class: 'IP confinement',
    title: 'send from a host address outside the box (shared stack)',
    on: 'confined',
    attack: (on) => on.run('net', 'connect', '127.0.0.1', tcpPort()),
    // Unconfined, the connection leaves from the host's own address.
    escaped: (line) => line.startsWith('ok') && line !== 'ok 127.0.0.2',
    control: { config: hostStack },
    blocked: async (line, on) => {
      assert.equal(line, 'ok 127.0.0.2');
      assert.match(await on.run('net', 'udp', '127.0.0.1', udpPort()), /^ok /);
      assert.equal(await on.run('net', 'connect', '::1', tcpPort()), 'err EPERM', 'no IPv6 source to leave from');
      await settle();
      assert.equal(tcpPeers.at(-1), '127.0.0.2', 'the host service saw the box address');
      assert.deepEqual(udpPeers, ['127.0.0.2']);
    },
  });

  suite.attempt({
    class: 'IP confinement',
    title: 'forge a source address with a raw socket (privileged box, shared stack)',
    on: 'privileged-confined',
    attack: (on) => on.run('raw'),
    control: { config: privilegedHostStack },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'IP confinement',
    title: 'open a raw socket on the host stack from a box in a user namespace',
    on: 'confined',
    attack: (on) => on.run('raw'),
    control: { config: privilegedHostStack },
    kernelBlocks: "CAP_NET_RAW of a user namespace does not reach the host's network namespace",
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });
});
