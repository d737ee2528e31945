import assert from 'node:assert/strict';
import { defineOperationInput, operationContext } from './operation-context.js';

describe('operation inputs', () => {
  const bundle = defineOperationInput<{ dir: string }>('test.bundle');
  const caller = defineOperationInput<number>('test.caller');

  it('travel with the context that carries them, and only with it', () => {
    const plain = operationContext();
    const carrying = caller.with(bundle.with(plain, { dir: '/b' }), 7);
    assert.deepEqual(bundle.of(carrying), { dir: '/b' });
    assert.equal(caller.of(carrying), 7);
    assert.equal(bundle.of(plain), undefined, 'the context it was made from is unchanged');
    assert.equal(bundle.of(undefined), undefined);
  });

  it('keep the signal, progress and log of the context they extend', () => {
    const controller = new AbortController();
    const steps: string[] = [];
    const carrying = bundle.with(operationContext({ signal: controller.signal, onProgress: (progress) => steps.push(progress.step) }), { dir: '/b' });
    carrying.progress({ step: 'layers' });
    controller.abort();
    assert.equal(carrying.signal.aborted, true);
    assert.deepEqual(steps, ['layers']);
  });
});
