import assert from 'node:assert/strict';
import { DebootstrapProgress, type DebootstrapUpdate, printf } from './debootstrap-progress.js';

describe('debootstrap progress', () => {
  it('maps phases to an overall percent that only grows, with the latest info line as the message', () => {
    const updates: DebootstrapUpdate[] = [];
    const progress = new DebootstrapProgress((update) => updates.push(update));
    for (const line of [
      'P: 0 100 DOWNREL',
      'PF: Downloading Release file',
      'I: RETRIEVING',
      'IA: libc6',
      'IA: 2.36-9',
      'IF: Retrieving %s %s',
      'P: 50 200 DOWNDEBS',
      'PF: Downloading packages',
      'P: 150 200',
      'P: 10 100 DOWNREL',
      'P: 3 4 CONFBASE',
      'E: COULDNT_DL',
      'EA: apt',
      "EF: Couldn't download %s",
    ]) {
      progress.line(line);
    }
    assert.deepEqual(updates, [
      { percent: 0, message: 'Retrieving libc6 2.36-9' },
      { percent: 27, message: 'Retrieving libc6 2.36-9' },
      { percent: 42, message: 'Retrieving libc6 2.36-9' },
      { percent: 98, message: 'Retrieving libc6 2.36-9' },
    ]);
    assert.deepEqual(progress.errors, ["Couldn't download apt"]);
  });

  it('formats the printf subset debootstrap uses', () => {
    assert.equal(printf('%s of %d (100%%)', ['a', '3']), 'a of 3 (100%)');
  });
});
