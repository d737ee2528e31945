import assert from 'node:assert/strict';
import type { Box } from '@nsbox/core';
import { limitsQuotaClaims } from '@nsbox/plugin-limits';
import Database from 'better-sqlite3';
import { daemonMigrations } from '../db-schema.js';
import { boxResourcesFrom } from './box-resources.js';

const boxResources = boxResourcesFrom([limitsQuotaClaims]);

import { parseBytes } from './bytes.js';
import { QuotaGuard } from './quota-guard.js';
import { TenantStore } from './tenant-store.js';

describe('quotas', () => {
  it('reads sizes as panels write them', () => {
    assert.equal(parseBytes(1024), 1024);
    assert.equal(parseBytes('512M'), 512 * 1024 ** 2);
    assert.equal(parseBytes('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes('100MB'), 100 * 1024 ** 2);
    assert.equal(parseBytes('2g'), 2 * 1024 ** 3);
    for (const bad of ['lots', '-1G', '1X', '', -5, Number.NaN, null]) assert.equal(parseBytes(bad), undefined, String(bad));
  });

  it("sums what the plugins' quota claims say of a box: limits' memory and disk", () => {
    assert.deepEqual(boxResources({ limits: { memory: '1G', disk: '10G' } }), { memory: 1024 ** 3, disk: 10 * 1024 ** 3 });
    assert.deepEqual(boxResources({ limits: { memory: 100 } }), { memory: 100, disk: null });
    assert.deepEqual(boxResources({ template: 'busybox' }), { memory: null, disk: null });
    const twice = boxResourcesFrom([limitsQuotaClaims, limitsQuotaClaims]);
    assert.deepEqual(twice({ limits: { memory: 100 } }), { memory: 200, disk: null });
  });

  it('counts boxes being created, so that two creates cannot share the last slot', () => {
    const db = new Database(':memory:');
    for (const step of daemonMigrations) db.exec(step);
    const tenants = new TenantStore(db);
    tenants.create({ name: 'acme', quotas: { boxes: 2, memory: 1000 } });
    const stored: Box[] = [
      { id: '1', name: 'a', owner: 'acme', config: { limits: { memory: 600 } }, state: 'created', runtime: {}, createdAt: 0, updatedAt: 0 },
    ];
    const guard = new QuotaGuard(
      tenants,
      () => stored,
      (name) => stored.some((box) => box.name === name),
      boxResources,
    );
    const release = guard.reserve('acme', 'b', { limits: { memory: 300 } });
    assert.throws(() => guard.reserve('acme', 'c', { limits: { memory: 50 } }), /may have 2 boxes/);
    assert.throws(() => guard.reserve(null, 'b', {}), /already exists/);
    release();
    assert.throws(() => guard.reserve('acme', 'c', { limits: { memory: 500 } }), /1000 bytes of memory/);
    assert.deepEqual(guard.usage('acme'), { boxes: 1, memory: 600, disk: 0 });
    assert.throws(() => guard.checkUpdate(stored[0] as Box, { limits: { memory: 1001 } }), /E_QUOTA|memory/);
    guard.checkUpdate(stored[0] as Box, { limits: { memory: 1000 } });
  });
});
