import assert from 'node:assert/strict';
import { keyedValues, parsePressure } from './usage-parse.js';

describe('usage parsers', () => {
  it('reads a pressure file with and without its full line', () => {
    const text = 'some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=789\n';
    assert.deepEqual(parsePressure(text), {
      some: { avg10: 1.5, avg60: 0.25, avg300: 0, totalUsec: 123456 },
      full: { avg10: 0.5, avg60: 0, avg300: 0, totalUsec: 789 },
    });
    assert.deepEqual(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=7'), { some: { avg10: 0, avg60: 0, avg300: 0, totalUsec: 7 } });
    assert.equal(parsePressure(undefined), undefined);
    assert.equal(parsePressure('some avg10=x'), undefined, 'a line it cannot read gives nothing rather than NaN');
  });

  it('reads key-value files, skipping what is not a count', () => {
    const values = keyedValues('anon 4096\nfile 8192\nworkingset_refault_anon 0\nbogus line here\n');
    assert.deepEqual(
      [...values],
      [
        ['anon', 4096],
        ['file', 8192],
        ['workingset_refault_anon', 0],
      ],
    );
  });
});
