import assert from 'node:assert/strict';
import { maskedComplement } from './seccomp-rules.js';

describe('the masked complement of a set of values', () => {
  it('matches exactly the values outside the set, on the bits asked for', () => {
    const tests = maskedComplement([0x12, 0x1c, 0x80], 0xff);
    for (let value = 0; value < 256; value++) {
      const matched = tests.some(({ mask, value: wanted }) => (value & mask) === wanted);
      assert.equal(matched, ![0x12, 0x1c, 0x80].includes(value), `value ${value}`);
    }
    assert.deepEqual(maskedComplement([]), [{ mask: 0, value: 0 }], 'nothing excluded: one test that matches everything');
  });
});
