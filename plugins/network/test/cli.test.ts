/**
 * The network commands through the real `nsbox` CLI, with the host side in a test network
 * namespace: pools made and listed, bad input refused naming the field with nothing made,
 * `create --net bridge --ip`, and `info` showing the addresses.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listLinks } from '@nsbox/native';
import { type CliRunOptions, cliCommands, makeCliHost, requireRoot, useCleanup } from '@nsbox/testkit';
import { makeTestNet, natRules, OUTSIDE, type TestNet } from './support.js';

const pluginEntry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');

describe('network: the nsbox commands', function () {
  // A dozen CLI processes: on a loaded machine each takes seconds.
  this.timeout(240_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network commands');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
    const settings = { netns: net.hostPath, bridge: net.bridge, nameservers: [OUTSIDE.out4] };
    cli = makeCliHost(cleanup, { plugins: [pluginEntry], settings: { network: settings } });
  });

  const { nsbox, ok } = cliCommands(() => cli);

  function refused(field: string, ...args: string[]) {
    const result = nsbox('--json', ...args);
    assert.notEqual(result.code, 0, `nsbox ${args.join(' ')} was refused`);
    const error = (JSON.parse(result.stdout) as { error: { details?: { field?: string; issues?: { path: string }[] }; message: string } }).error;
    // A plugin's check names one field; the config schema lists its issues by path.
    const fields = error.details?.field ? [error.details.field] : (error.details?.issues ?? []).map((issue) => issue.path);
    assert.deepEqual(fields, [field], `${args.join(' ')}: ${error.message}`);
    return error;
  }

  it('makes and lists pools, refuses bad ones naming the field, and bridges a box created with --net/--ip', () => {
    ok('net', 'pool', 'create', 'lan', '--subnet', '10.232.0.0/24');
    ok('net', 'pool', 'create', 'lan6', '--subnet', 'fd42:232::/64', '--gateway', 'fd42:232::fe');
    refused('subnet', 'net', 'pool', 'create', 'clash', '--subnet', '10.232.0.128/25');
    refused('subnet', 'net', 'pool', 'create', 'junk', '--subnet', 'not-a-cidr');
    const pools = nsbox('--json', 'net', 'pool', 'list').json() as { name: string; subnet: string; gateway: string; used: number }[];
    assert.deepEqual(
      pools.map((pool) => `${pool.name} ${pool.subnet} ${pool.gateway} ${pool.used}`),
      ['lan 10.232.0.0/24 10.232.0.1 0', 'lan6 fd42:232::/64 fd42:232::fe 0'],
    );

    refused('network.ip[0]', 'create', 'out', '--template', 'busybox', '--net', 'bridge', '--ip', '10.240.0.9');
    assert.deepEqual(nsbox('--json', 'list').json(), [], 'no box was made');

    ok('create', 'web', '--template', 'busybox', '--net', 'bridge', '--ip', '10.232.0.10', '--ip', 'fd42:232::10/64', '--', 'sleep', '100000');
    ok('start', 'web');
    const info = nsbox('--json', 'info', 'web').json() as { details: unknown };
    const section = (info.details as { network: { addresses: string[]; gateways: string[]; interface: string } }).network;
    assert.deepEqual(section.addresses.sort(), ['10.232.0.10/24', 'fd42:232::10/64']);
    assert.deepEqual(section.gateways.sort(), ['10.232.0.1', 'fd42:232::fe']);
    assert.deepEqual(natRules(net).sort(), ['10.232.0.0/24', 'fd42:232::/64']);
    const hostLink = section.interface;
    assert.ok(listLinks(net.hostPath).some((link) => link.name === hostLink));

    // Rates through `nsbox net set`, live; a bad one refused naming the field, the box as it was.
    ok('net', 'set', 'web', '--rate', '10mbit', '--ingress-rate', '20mbit');
    const shaped = (nsbox('--json', 'info', 'web').json() as { details: { network: { rate?: string; ingressRate?: string } } }).details.network;
    assert.deepEqual([shaped.rate, shaped.ingressRate], ['10mbit', '20mbit']);
    assert.match(execFileSync('ip', ['netns', 'exec', net.hostNs, 'tc', 'qdisc', 'show', 'dev', hostLink], { encoding: 'utf8' }), /tbf 1: root .*rate 20Mbit/);
    refused('network.rate', 'net', 'set', 'web', '--rate', 'fast');
    ok('destroy', '--force', 'web');
    assert.ok(!listLinks(net.hostPath).some((link) => link.name === hostLink), 'the veth went with the box');
    ok('net', 'pool', 'remove', 'lan');
  });
});
