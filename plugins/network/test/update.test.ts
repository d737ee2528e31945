/**
 * Changing a box's network section (PATCH /boxes/:id, `nsbox net set`: both are the BoxApi's
 * update): a running box's mode and addresses are refused naming the field and its config
 * stays; a stopped box's new static addresses are checked at once and claimed at its next
 * start (the old ones freed), and a box switched to mode none gives its addresses back.
 */

import assert from 'node:assert/strict';
import { isNsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { makeTestNet, openNetHost, type TestNet } from './support.js';

const POOL = { name: 'v4', subnet: '10.235.0.0/24' };

describe('network plugin: config updates (real kernel, test network namespaces)', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network update tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  it('refuses address changes of a running box, re-claims a stopped one at its start, and frees them for mode none', async () => {
    const t = await openNetHost(cleanup, net, { pools: [POOL] });
    const api = new LocalBoxApi(t.host);
    await t.box('mover', { mode: 'bridge', ip: ['10.235.0.40'] });
    await t.box('holder', { mode: 'bridge', ip: ['10.235.0.50'] });
    const mover = t.host.manager.get('mover').id;

    const refused = (changes: Record<string, unknown>, code: string, field: string) =>
      assert.rejects(api.update('mover', changes), (error: unknown) => isNsboxError(error) && error.code === code && error.details?.field === field);
    await refused({ network: { mode: 'bridge', ip: ['10.235.0.41'] } }, 'E_INVALID_STATE', 'network.ip');
    await refused({ network: { mode: 'routed', ip: ['10.235.0.40'] } }, 'E_INVALID_STATE', 'network.mode');
    assert.deepEqual(t.host.manager.get('mover').config.network, { mode: 'bridge', ip: ['10.235.0.40'] }, 'the refused change left the config');

    await t.host.manager.stop('mover', { timeoutMs: 0 });
    await refused({ network: { mode: 'bridge', ip: ['10.235.0.50'] } }, 'E_ALREADY_EXISTS', 'network.ip[0]');
    await refused({ network: { mode: 'bridge', ip: ['10.99.0.1'] } }, 'E_INVALID_CONFIG', 'network.ip[0]');
    await api.update('mover', { network: { mode: 'bridge', ip: ['10.235.0.41'] } });
    await t.host.manager.start('mover');
    assert.match((await t.exec('mover', 'ip -o -4 addr show dev eth0')).stdout, /inet 10\.235\.0\.41\/24/);
    assert.equal(t.claims()['10.235.0.41'], mover, 'the new address is claimed');
    assert.equal(t.claims()['10.235.0.40'], undefined, 'and the old one freed');

    await t.host.manager.stop('mover', { timeoutMs: 0 });
    await api.update('mover', { network: { mode: 'none' } });
    await t.host.manager.start('mover');
    assert.doesNotMatch((await t.exec('mover', 'ip -o link')).stdout, /eth0/);
    assert.deepEqual(Object.values(t.claims()), [t.host.manager.get('holder').id], 'a box with mode none holds no address');
  });
  it('refuses mode host for a box with a network namespace of its own, and addresses or rates with it', async () => {
    const t = await openNetHost(cleanup, net, { pools: [POOL] });
    const create = (name: string, network: Record<string, unknown>) =>
      t.host.manager.create({ name, config: { template: 'busybox', process: { args: ['sleep', '100000'] }, network } });
    const refused = (promise: Promise<unknown>, field: string) =>
      assert.rejects(promise, (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_CONFIG' && error.details?.field === field);
    await refused(create('h1', { mode: 'host', ip: ['10.235.0.7'] }), 'network.ip');
    await refused(create('h2', { mode: 'host', rate: '10mbit' }), 'network.rate');
    await create('h3', { mode: 'host' });
    // Without isolation sharing the host's stack the box has its own namespace: the start is refused, nothing made.
    await refused(t.host.manager.start('h3'), 'network.mode');
    assert.notEqual(t.host.manager.get('h3').state, 'running');
    assert.deepEqual(t.claims(), {});
    assert.deepEqual(t.boxLinks(), []);
  });
  it("gives a tenant's boxes addresses of its pools, others the shared ones, and never one of another tenant's pool", async () => {
    const t = await openNetHost(cleanup, net, {
      pools: [
        { name: 'shared', subnet: '10.238.0.0/24' },
        { name: 'acme', subnet: '10.239.0.0/24', tenant: 'acme' },
      ],
    });
    const api = new LocalBoxApi(t.host);
    const pools = (await api.runAction('network', 'pool-list', {})) as { name: string; tenant?: string }[];
    assert.deepEqual(
      pools.map((pool) => `${pool.name}:${pool.tenant ?? '-'}`),
      ['shared:-', 'acme:acme'],
    );
    const create = (name: string, owner: string | undefined, network: Record<string, unknown> = { mode: 'bridge' }) =>
      t.host.manager.create({ name, ...(owner ? { owner } : {}), config: { template: 'busybox', network } });
    await create('a1', 'acme');
    await create('admin', undefined);
    await create('o1', 'other');
    const claims = t.claims();
    const holder = (name: string) => Object.keys(claims).filter((address) => claims[address] === t.host.manager.get(name).id);
    assert.deepEqual(holder('a1'), ['10.239.0.2'], "the tenant's box draws from its pool");
    assert.deepEqual(holder('admin'), ['10.238.0.2'], 'a box without an owner from the shared one');
    assert.deepEqual(holder('o1'), ['10.238.0.3'], 'a tenant without pools from the shared one');
    await assert.rejects(
      create('o2', 'other', { mode: 'bridge', ip: ['10.239.0.9'] }),
      (error: unknown) => isNsboxError(error) && error.details?.field === 'network.ip[0]',
    );
    await assert.rejects(
      create('a2', 'acme', { mode: 'bridge', ip: ['10.238.0.9'] }),
      (error: unknown) => isNsboxError(error) && error.details?.field === 'network.ip[0]',
    );
    assert.equal(t.host.manager.list().length, 3, 'the refused boxes do not exist');
  });
});
