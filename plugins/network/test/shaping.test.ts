/**
 * Shaping on the real kernel, in the test's namespaces: a box's egress limit measured by a TCP
 * stream from the box to a server in the test's host namespace, its ingress limit by the bytes
 * the host end of its veth sends while a stream goes the other way; a live change takes effect
 * on the running box; a removed rate leaves no bucket or ifb, nor does a stop.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isNsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { listLinks } from '@nsbox/native';
import { type Cleanup, requireRoot, useCleanup } from '@nsbox/testkit';
import { hostLinkName } from '../src/index.js';
import { ifbName } from '../src/shaping.js';
import { rateServer } from './rate-meter.js';
import { makeTestNet, type NetTestHost, openNetHost, sleep, type TestNet } from './support.js';

const POOL = { name: 'v4', subnet: '10.234.0.0/24' };
const GATEWAY = '10.234.0.1';
/** Seconds of stream per measurement (the first one is left out). */
const SECONDS = 4;

function tc(net: TestNet, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', net.hostNs, 'tc', ...args], { encoding: 'utf8' });
}

/** The box sends SECONDS of a stream at `mbit` to the host namespace; the rate it arrived at (Mbit/s). */
async function upload(t: NetTestHost, cleanup: Cleanup, net: TestNet, box: string, mbit: number, port: number): Promise<number> {
  const bytes = Math.round((mbit * 1e6 * SECONDS) / 8);
  const server = await rateServer(cleanup, net.hostNs, port, 'receive', bytes);
  const sent = t.exec(box, `head -c ${bytes} /dev/zero | nc ${GATEWAY} ${port}`);
  const rate = await server.measured;
  await sent;
  return rate;
}

/** The host namespace sends a stream to the box; the rate its veth's host end sent at, bytes on the wire (Mbit/s). */
async function download(t: NetTestHost, cleanup: Cleanup, net: TestNet, box: string, mbit: number, port: number): Promise<number> {
  const bytes = Math.round((mbit * 1e6 * SECONDS) / 8);
  await rateServer(cleanup, net.hostNs, port, 'send', bytes);
  const link = hostLinkName(t.host.manager.get(box).id);
  const sentBytes = () => listLinks(net.hostPath).find((candidate) => candidate.name === link)?.txBytes ?? 0;
  const received = t.exec(box, `nc ${GATEWAY} ${port} > /dev/null`);
  await sleep(1000);
  const [from, started] = [sentBytes(), performance.now()];
  await sleep((SECONDS - 2) * 1000);
  const rate = ((sentBytes() - from) * 8) / (performance.now() - started) / 1000;
  await received;
  return rate;
}

describe('network plugin: shaping (real kernel, test network namespaces)', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network shaping tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  it('holds a box to 10 Mbit/s out, changes its rates live, and leaves no bucket or ifb when they go', async () => {
    const t = await openNetHost(cleanup, net, { pools: [POOL] });
    const api = new LocalBoxApi(t.host);
    await t.box('shaped', { mode: 'bridge', rate: '10mbit' });
    const id = t.host.manager.get('shaped').id;
    const link = hostLinkName(id);
    assert.ok(
      listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(id)),
      'the ifb of its egress exists',
    );
    assert.match(tc(net, 'filter', 'show', 'dev', link, 'ingress'), new RegExp(`Egress Redirect to device ${ifbName(id)}`));

    const out10 = await upload(t, cleanup, net, 'shaped', 10, 18_001);
    assert.ok(out10 >= 9 && out10 <= 10.5, `a 10mbit egress limit measures ${out10.toFixed(2)} Mbit/s`);

    // Live: egress doubled, ingress limited, on the running box.
    assert.deepEqual(await api.runAction('network', 'set', { box: 'shaped', rate: '20mbit', ingressRate: '10mbit' }), {
      box: 'shaped',
      state: 'running',
      rate: '20mbit',
      ingressRate: '10mbit',
    });
    const out20 = await upload(t, cleanup, net, 'shaped', 20, 18_002);
    assert.ok(out20 >= 18 && out20 <= 21, `after the live change to 20mbit it measures ${out20.toFixed(2)} Mbit/s`);
    const in10 = await download(t, cleanup, net, 'shaped', 10, 18_003);
    assert.ok(in10 >= 9 && in10 <= 10.5, `a 10mbit ingress limit measures ${in10.toFixed(2)} Mbit/s on the wire`);

    // Bad input is refused naming the field; the box keeps its rates.
    await assert.rejects(
      api.runAction('network', 'set', { box: 'shaped', rate: 'fast' }),
      (error: unknown) => isNsboxError(error) && JSON.stringify(error.details).includes('network.rate'),
    );
    await assert.rejects(
      api.update('shaped', { network: { mode: 'routed', rate: '20mbit' } }),
      (error: unknown) => isNsboxError(error) && error.details?.field === 'network.mode',
    );
    assert.equal((t.host.manager.get('shaped').config.network as { rate?: string }).rate, '20mbit', 'a refused change leaves the config as it was');

    // Removed: no bucket on the host end, no ifb, and the stream is no longer held to 20.
    await api.runAction('network', 'set', { box: 'shaped', rate: 'none', ingressRate: 'none' });
    assert.doesNotMatch(tc(net, 'qdisc', 'show', 'dev', link), /tbf|ingress/);
    assert.ok(!listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(id)), 'the ifb went');
    console.log(`      measured: 10mbit out ${out10.toFixed(2)}, 20mbit out ${out20.toFixed(2)}, 10mbit in ${in10.toFixed(2)} Mbit/s`);
    const free = await upload(t, cleanup, net, 'shaped', 40, 18_004);
    assert.ok(free > 30, `without a rate the stream runs free (${free.toFixed(2)} Mbit/s)`);

    // A stop takes the ifb along with the veth.
    await api.runAction('network', 'set', { box: 'shaped', rate: '5mbit' });
    assert.ok(listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(id)));
    await t.host.manager.stop('shaped', { timeoutMs: 0 });
    assert.deepEqual(
      listLinks(net.hostPath).filter((candidate) => /^ns[bi][0-9a-f]{12}$/.test(candidate.name)),
      [],
      'no ifb or veth is left after the stop',
    );
  });
});
