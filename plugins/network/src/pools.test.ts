import assert from 'node:assert/strict';
import { isNsboxError } from '@nsbox/core';
import { memoryPluginState as memoryState } from '@nsbox/testkit';
import sinon from 'sinon';
import { Claims, parseStaticAddress } from './claims.js';
import { checkConfiguredPools, Pools } from './pools.js';

const refusedWith = (code: string, field: string) => (error: unknown) => isNsboxError(error) && error.code === code && error.details?.field === field;

describe('network: pools and claims', () => {
  it('refuses a bad pool naming the field, and keeps nothing of it', () => {
    const state = memoryState();
    const pools = new Pools(state, [{ name: 'conf', subnet: '10.1.0.0/16' }]);
    pools.create({ name: 'lan', subnet: '10.2.0.0/24' });
    assert.throws(() => pools.create({ name: 'x', subnet: '10.2.0.1/24' }), refusedWith('E_INVALID_ARGUMENT', 'subnet'));
    assert.throws(() => pools.create({ name: 'x', subnet: '10.1.5.0/24' }), refusedWith('E_INVALID_ARGUMENT', 'subnet'), 'overlaps a host.json pool');
    assert.throws(() => pools.create({ name: 'x', subnet: '10.3.0.0/24', gateway: '10.4.0.1' }), refusedWith('E_INVALID_ARGUMENT', 'gateway'));
    assert.throws(
      () => pools.create({ name: 'x', subnet: '10.3.0.0/24', gateway: '10.3.0.255' }),
      refusedWith('E_INVALID_ARGUMENT', 'gateway'),
      'the broadcast',
    );
    assert.throws(() => pools.create({ name: 'lan', subnet: '10.5.0.0/24' }), refusedWith('E_ALREADY_EXISTS', 'name'));
    assert.throws(() => pools.create({ name: 'Bad Name', subnet: '10.5.0.0/24' }), refusedWith('E_INVALID_ARGUMENT', 'name'));
    assert.deepEqual(
      pools.list().map((pool) => `${pool.name} ${pool.subnet} ${pool.gateway} ${pool.source}`),
      ['conf 10.1.0.0/16 10.1.0.1 host-config', 'lan 10.2.0.0/24 10.2.0.1 created'],
    );
    assert.throws(
      () =>
        checkConfiguredPools([
          { name: 'a', subnet: '10.0.0.0/8' },
          { name: 'b', subnet: '10.9.0.0/16' },
        ]),
      refusedWith('E_INVALID_CONFIG', 'settings.network.pools[1].subnet'),
    );
  });

  it('hands out the lowest free address, never one twice, and frees a box’s addresses all at once', () => {
    const state = memoryState();
    const pools = new Pools(state, [{ name: 'small', subnet: '10.7.0.0/29' }]);
    const claims = new Claims(state);
    const pool = pools.list()[0];
    assert.ok(pool);
    // A /29: .1 is the gateway, .7 the broadcast: .2 to .6 for boxes.
    const got = ['a', 'b', 'c', 'd', 'e'].map((box) => claims.claimNext(box, pool));
    assert.deepEqual(got, ['10.7.0.2', '10.7.0.3', '10.7.0.4', '10.7.0.5', '10.7.0.6']);
    assert.throws(() => claims.claimNext('f', pool), refusedWith('E_QUOTA_EXCEEDED', 'network'));
    assert.deepEqual(claims.release('c'), ['10.7.0.4']);
    assert.equal(claims.claimNext('f', pool), '10.7.0.4');
    const wanted = parseStaticAddress('10.7.0.5/29', pools.list(), 'network.ip[0]');
    assert.throws(() => claims.claimStatic('g', wanted, 'network.ip[0]'), refusedWith('E_ALREADY_EXISTS', 'network.ip[0]'));
    claims.claimStatic('d', wanted, 'network.ip[0]');
    assert.throws(() => parseStaticAddress('10.7.0.5/24', pools.list(), 'network.ip[0]'), refusedWith('E_INVALID_CONFIG', 'network.ip[0]'));
    assert.throws(() => parseStaticAddress('10.8.0.5', pools.list(), 'network.ip[1]'), refusedWith('E_INVALID_CONFIG', 'network.ip[1]'));
    assert.throws(() => pools.remove('small', (p) => claims.countIn(p)), refusedWith('E_INVALID_ARGUMENT', 'name'), 'a host.json pool');
  });

  it('skips the claimed addresses it read, and still loses a race to a claim made after its read', () => {
    const state = memoryState();
    const pool = new Pools(state, [{ name: 'small', subnet: '10.7.0.0/29' }]).list()[0];
    assert.ok(pool);
    const claims = new Claims(state);
    assert.deepEqual(
      ['a', 'b'].map((box) => claims.claimNext(box, pool)),
      ['10.7.0.2', '10.7.0.3'],
    );
    // Another process claims .4 between this one's read of the claims and its insert.
    const list = state.list.bind(state);
    const stale = sinon.stub(state, 'list').callsFake((namespace, prefix) => {
      const entries = list(namespace, prefix);
      new Claims({ ...state, list }).claimNext('other', pool);
      return entries;
    });
    try {
      assert.equal(claims.claimNext('c', pool), '10.7.0.5', 'the atomic claim, not the stale read, decides');
    } finally {
      stale.restore();
    }
    assert.equal(claims.holder('10.7.0.4'), 'other');
  });
});
