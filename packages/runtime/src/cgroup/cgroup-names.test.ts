import assert from 'node:assert/strict';
import { isNsboxError } from '@nsbox/core';
import { assertBoxName, assertControllerFile, CGROUP_ROOT_PARENT, parentSegments } from './cgroup-names.js';

const invalidArgument = (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT';

describe('cgroup names', () => {
  it('accepts box names that are ids and hostnames', () => {
    for (const name of ['web1', 'a', 'box_2', 'my-box.example', 'unit@1', '0f3c9e2a']) assert.doesNotThrow(() => assertBoxName(name), name);
  });

  it('rejects names that climb out or hide', () => {
    for (const name of ['', '.', '..', '../x', 'a/b', '.hidden', 'sp ace', 'x'.repeat(201), 'nul\0']) {
      assert.throws(() => assertBoxName(name), invalidArgument, JSON.stringify(name));
    }
  });

  it('splits a nested parent and rejects an absolute or climbing one', () => {
    assert.deepEqual(parentSegments('nsbox/web'), ['nsbox', 'web']);
    assert.deepEqual(parentSegments(CGROUP_ROOT_PARENT), [], 'the cgroup roots themselves, spelled only as the constant');
    for (const parent of ['', '/nsbox', 'nsbox/', 'a/../b', 'nsbox//x']) assert.throws(() => parentSegments(parent), invalidArgument, parent);
  });

  it("insists a file belongs to its controller: '<controller>.<name>'", () => {
    assert.doesNotThrow(() => assertControllerFile('memory', 'memory.limit_in_bytes'));
    assert.doesNotThrow(() => assertControllerFile('hugetlb', 'hugetlb.2MB.max'));
    for (const [controller, file] of [
      ['memory', 'cpu.max'],
      ['memory', 'memory.max/../../x'],
      ['memory', 'memory..x'],
      ['../memory', '../memory.max'],
      ['memory', 'tasks'],
    ] as const) {
      assert.throws(() => assertControllerFile(controller, file), invalidArgument, `${controller} ${file}`);
    }
  });
});
