import assert from 'node:assert/strict';
import type { Box } from '@nsbox/core';
import { networkSetPart } from './set-part.js';

const box = (network?: Record<string, unknown>) => ({ name: 'web', config: network ? { network } : {} }) as unknown as Box;

describe('network: its part of nsbox set', () => {
  it('sets and removes the rates in the box’s section, keeping its other fields', async () => {
    assert.deepEqual(networkSetPart.changes(box({ mode: 'bridge', rate: '5mbit' }), { netIngressRate: '20mbit' }), {
      network: { mode: 'bridge', rate: '5mbit', ingressRate: '20mbit' },
    });
    assert.deepEqual(networkSetPart.changes(box({ mode: 'bridge', rate: '5mbit' }), { netRate: 'none' }), { network: { mode: 'bridge' } });
    assert.deepEqual(networkSetPart.changes(box({ rate: '5mbit' }), { netRate: 'NONE' }), { network: null }, 'nothing left: no section');
    assert.deepEqual(networkSetPart.report?.(box({ rate: '5mbit' }), undefined), { rate: '5mbit', ingressRate: 'none' });
  });

  it('takes only its own fields, as strings', async () => {
    const validate = (value: unknown) => networkSetPart.input['~standard'].validate(value);
    assert.ok(!(await validate({ netRate: '10mbit' })).issues);
    assert.ok((await validate({ netRate: '' })).issues, 'an empty rate');
    assert.ok((await validate({ rate: '10mbit' })).issues, 'not a set option of its');
    assert.deepEqual(
      Object.values(networkSetPart.options).map((option) => option.flags.split(' ')[0]),
      ['--net-rate', '--net-ingress-rate'],
    );
  });
});
