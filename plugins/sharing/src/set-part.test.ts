import assert from 'node:assert/strict';
import type { Box } from '@nsbox/core';
import { sharingSetPart } from './share-actions.js';

const box = (sharing?: Record<string, unknown>) => ({ name: 'web', config: sharing ? { sharing } : {} }) as unknown as Box;

describe('sharing: its part of nsbox set', () => {
  it('maps its prefixed options onto the sharing section, merging the CPU bucket and keeping the rest', async () => {
    const parsed = await sharingSetPart.input['~standard'].validate({ shareWeight: '300', shareBucket: 20, memoryGuarantee: '64M' });
    assert.ok(!parsed.issues);
    const values = (parsed as { value: Record<string, unknown> }).value;
    assert.deepEqual(sharingSetPart.changes(box({ template: 'shared', cpu: { fillRate: 50 } }), values), {
      sharing: { template: 'shared', cpu: { fillRate: 50, weight: 300, bucket: 20 }, memory: { guarantee: '64M' } },
    });
    assert.deepEqual(sharingSetPart.changes(box({ cpu: { fillRate: 50 } }), { resetShares: true, ioWeight: 200 }), { sharing: { io: { weight: 200 } } });
    assert.deepEqual(sharingSetPart.changes(box({ cpu: { fillRate: 50 } }), { resetShares: true }), { sharing: null });
  });

  it('refuses a value that is not a number, naming its field', async () => {
    const parsed = await sharingSetPart.input['~standard'].validate({ shareWeight: 'heavy' });
    assert.deepEqual(
      parsed.issues?.map((issue) => issue.path?.[0]),
      ['shareWeight'],
    );
  });
});
