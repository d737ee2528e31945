import assert from 'node:assert/strict';
import { boxOfScope, boxUnits, escapeUnitName, prefixedScopeUnits, scopeUnit, sliceChain, unescapeUnitName } from './systemd-units.js';

describe('systemd unit names for boxes', () => {
  it('escapes as systemd-escape does: a dash never becomes a slice level', () => {
    assert.equal(escapeUnitName('nsbox'), 'nsbox');
    assert.equal(escapeUnitName('nsbox-test-ab12'), 'nsbox\\x2dtest\\x2dab12');
    assert.equal(escapeUnitName('a@b+c:d_e.f'), 'a\\x40b\\x2bc:d_e.f');
    assert.equal(escapeUnitName('.hidden'), '\\x2ehidden');
    for (const name of ['nsbox-test-ab12', 'a@b+c:d_e.f', '.hidden', 'box-1']) assert.equal(unescapeUnitName(escapeUnitName(name)), name);
  });

  it('maps a parent to its slices, top down, and each box to a scope in the last one', () => {
    assert.deepEqual(boxUnits('nsbox'), { slices: ['nsbox.slice'], scopePrefix: 'nsbox-' });
    assert.deepEqual(boxUnits('nsbox/web'), { slices: ['nsbox.slice', 'nsbox-web.slice'], scopePrefix: 'nsbox-web-' });
    const test = boxUnits('nsbox-test-ab12');
    assert.deepEqual(test.slices, ['nsbox\\x2dtest\\x2dab12.slice']);
    assert.equal(scopeUnit(test, 'box-1'), 'nsbox\\x2dtest\\x2dab12-box\\x2d1.scope');
  });

  it("reads a box back from its scope's name, and no other unit as one", () => {
    const units = boxUnits('nsbox');
    assert.equal(boxOfScope(units, scopeUnit(units, 'web-1')), 'web-1');
    assert.equal(boxOfScope(units, 'nsbox-web.slice'), undefined);
    assert.equal(boxOfScope(units, 'other-x.scope'), undefined);
    // A scope of parent 'nsbox/web' is not a box 'web-x' of 'nsbox'.
    assert.equal(boxOfScope(units, scopeUnit(boxUnits('nsbox/web'), 'x')), undefined);
    assert.equal(boxOfScope(units, 'nsbox-.scope'), undefined);
  });
});

describe('systemd units of an OCI cgroupsPath (slice:prefix:name)', () => {
  it('places the scope in the slice, its parents above it, system.slice by default', () => {
    assert.deepEqual(sliceChain('machine.slice'), ['machine.slice']);
    assert.deepEqual(sliceChain('user-1000.slice'), ['user.slice', 'user-1000.slice']);
    assert.deepEqual(sliceChain('-.slice'), []);
    const podman = prefixedScopeUnits('machine.slice', 'libpod');
    assert.equal(scopeUnit(podman, '0123abcd'), 'libpod-0123abcd.scope');
    assert.deepEqual(prefixedScopeUnits('', 'runc').slices, ['system.slice']);
  });

  it('refuses what is not a slice unit', () => {
    for (const slice of ['machine', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice', '.slice']) {
      assert.throws(() => sliceChain(slice), /slice unit name/, slice);
    }
  });
});
