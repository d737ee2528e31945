import assert from 'node:assert/strict';
import { formatCpuList, parseCpuList } from '@nsbox/runtime-api';
import { formatSize, parseCount, parseCpus, parseSize } from './units.js';

describe('limits: human units', () => {
  it('reads sizes in binary units', () => {
    assert.equal(parseSize('512M'), 512 * 2 ** 20);
    assert.equal(parseSize('2G'), 2 * 2 ** 30);
    assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
    assert.equal(parseSize('100k'), 102_400);
    assert.equal(parseSize('64MiB'), 64 * 2 ** 20);
    assert.equal(parseSize('64MB'), 64 * 2 ** 20);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('4096'), 4096);
  });

  it('refuses negative, fractional and unparseable sizes with a message that quotes them', () => {
    assert.throws(() => parseSize('-5M'), /'-5M' is negative/);
    assert.throws(() => parseSize(-1), /-1 is negative/);
    assert.throws(() => parseSize('lots'), /'lots' is not a size: use bytes or a number with K, M, G or T/);
    assert.throws(() => parseSize('1.5'), /'1.5' is not a whole number of bytes/);
    assert.throws(() => parseSize('5X'), /not a size/);
    assert.throws(() => parseSize(Number.NaN), /whole number/);
  });

  it('reads counts in decimal units, and CPUs as a fraction above 0', () => {
    assert.equal(parseCount('200'), 200);
    assert.equal(parseCount('100k'), 100_000);
    assert.equal(parseCount('1.5m'), 1_500_000);
    assert.throws(() => parseCount('many'), /'many' is not a count/);
    assert.throws(() => parseCount('-3'), /negative/);
    assert.equal(parseCpus('1.5'), 1.5);
    assert.equal(parseCpus(0.5), 0.5);
    assert.throws(() => parseCpus(0), /must be more than 0/);
    assert.throws(() => parseCpus('-1'), /must be more than 0/);
    assert.throws(() => parseCpus('0.001'), /smallest CPU limit is 0.01/);
    assert.throws(() => parseCpus('two'), /not a number of CPUs/);
  });

  it('writes sizes back the short way', () => {
    assert.equal(formatSize(512 * 2 ** 20), '512M');
    assert.equal(formatSize(1.5 * 2 ** 30), '1.5G');
    assert.equal(formatSize(100), '100');
  });

  it('reads and writes CPU lists', () => {
    assert.deepEqual(parseCpuList('0-2,5, 7'), [0, 1, 2, 5, 7]);
    assert.equal(formatCpuList([5, 0, 1, 2, 7, 1]), '0-2,5,7');
    assert.throws(() => parseCpuList('3-1'), /runs backwards/);
    assert.throws(() => parseCpuList('a'), /not a CPU list/);
    assert.throws(() => parseCpuList(''), /empty list/);
  });
});
