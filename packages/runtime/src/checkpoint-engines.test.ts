import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import type { CheckpointEngine } from '@nsbox/runtime-api';
import { CheckpointEngineSlot } from './checkpoint-engines.js';

const engine = (name: string): CheckpointEngine => ({
  name,
  checkpoint: async () => ({}),
  restoreLauncher: async () => ({ path: '/bin/false' }),
});

describe('the checkpoint engine slot', () => {
  it('says E_UNSUPPORTED, naming the plugin that provides an engine, until one is installed', () => {
    const slot = new CheckpointEngineSlot();
    assert.throws(
      () => slot.require({ name: 'web' }, 'checkpoint'),
      (error: NsboxError) => error.code === 'E_UNSUPPORTED' && /migration plugin/.test(error.message),
    );
    const remove = slot.install(engine('criu'));
    assert.equal(slot.require({ name: 'web' }, 'restore').name, 'criu');
    remove();
    assert.equal(slot.current(), undefined);
  });

  it('holds one engine: a second is refused, naming both', () => {
    const slot = new CheckpointEngineSlot();
    slot.install(engine('criu'));
    assert.throws(
      () => slot.install(engine('other')),
      (error: NsboxError) => error.code === 'E_BUSY' && /criu/.test(error.message) && /other/.test(error.message),
    );
  });
});
