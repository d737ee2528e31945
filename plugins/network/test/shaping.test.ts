/**
 * Shaping on the real kernel, in the test's namespaces: a TCP stream from the box to a server
 * in the test's host namespace measures its egress limit (the bytes its ifb passed), one the
 * other way its ingress limit (the bytes the host end of its veth sent) — on the wire, headers
 * included, as tbf counts them; a live change takes effect
 * on the running box; a removed rate leaves no bucket or ifb, nor does a stop.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isNsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { listLinks } from '@nsbox/native';
import { type Cleanup, requireRoot, useCleanup } from '@nsbox/testkit';
import { ifbName } from '../src/index.js';
import { measureRate, rateServer } from './rate-meter.js';
import { makeTestNet, type NetTestHost, openNetHost, type TestNet } from './support.js';

const POOL = { name: 'v4', subnet: '10.234.0.0/24' };
const GATEWAY = '10.234.0.1';
/** Seconds measured per stream (after its first second). */
const SECONDS = 3;

function tc(net: TestNet, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', net.hostNs, 'tc', ...args], { encoding: 'utf8' });
}

/** What the box sent: past its ifb when it is shaped, else as its veth's host end received it. */
function sentCounter(net: TestNet, link: string): () => number {
  return () => {
    const links = listLinks(net.hostPath);
    const ifb = links.find((candidate) => candidate.name === ifbName(link));
    return ifb ? ifb.txBytes : (links.find((candidate) => candidate.name === link)?.rxBytes ?? 0);
  };
}

/** The box streams to the host namespace for SECONDS + 1 at about `mbit`; the rate on the wire (Mbit/s). */
async function upload(t: NetTestHost, cleanup: Cleanup, net: TestNet, box: string, mbit: number, port: number): Promise<number> {
  const bytes = Math.round((mbit * 1e6 * (SECONDS + 1.5)) / 8);
  await rateServer(cleanup, net.hostNs, port, 'receive', bytes);
  const sent = t.exec(box, `head -c ${bytes} /dev/zero | nc ${GATEWAY} ${port}`);
  const rate = await measureRate(sentCounter(net, t.link(t.host.manager.get(box).id)), SECONDS);
  await sent;
  return rate;
}

/** The host namespace streams to the box; the rate its veth's host end sent at, on the wire (Mbit/s). */
async function download(t: NetTestHost, cleanup: Cleanup, net: TestNet, box: string, mbit: number, port: number): Promise<number> {
  const bytes = Math.round((mbit * 1e6 * (SECONDS + 1.5)) / 8);
  await rateServer(cleanup, net.hostNs, port, 'send', bytes);
  const link = t.link(t.host.manager.get(box).id);
  const received = t.exec(box, `nc ${GATEWAY} ${port} > /dev/null`);
  const rate = await measureRate(() => listLinks(net.hostPath).find((candidate) => candidate.name === link)?.txBytes ?? 0, SECONDS);
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
    const link = t.link(id);
    assert.ok(
      listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(link)),
      'the ifb of its egress exists',
    );
    assert.match(tc(net, 'filter', 'show', 'dev', link, 'ingress'), new RegExp(`Egress Redirect to device ${ifbName(link)}`));

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
    assert.ok(!listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(link)), 'the ifb went');
    console.log(`      measured: 10mbit out ${out10.toFixed(2)}, 20mbit out ${out20.toFixed(2)}, 10mbit in ${in10.toFixed(2)} Mbit/s`);
    // Unshaped, 20 MB go by far faster than 20mbit would let them (8 s): the whole exec is timed.
    await rateServer(cleanup, net.hostNs, 18_004, 'receive', 20e6);
    const started = performance.now();
    await t.exec('shaped', `head -c ${20e6} /dev/zero | nc ${GATEWAY} 18004`);
    const free = (20e6 * 8) / (performance.now() - started) / 1000;
    assert.ok(free > 30, `without a rate the stream runs free (${free.toFixed(2)} Mbit/s)`);

    // A stop takes the ifb along with the veth.
    await api.runAction('network', 'set', { box: 'shaped', rate: '5mbit' });
    assert.ok(listLinks(net.hostPath).some((candidate) => candidate.name === ifbName(link)));
    await t.host.manager.stop('shaped', { timeoutMs: 0 });
    assert.deepEqual(
      listLinks(net.hostPath).filter((candidate) => /^ns[bi][0-9a-f]{12}$/.test(candidate.name)),
      [],
      'no ifb or veth is left after the stop',
    );
  });
});
