/**
 * The slot a plugin installs its checkpoint engine into (runtimeRefs.checkpointEngines).
 * Without one, checkpoint and restore answer E_UNSUPPORTED, naming the plugin that provides it.
 */

import { type Box, NsboxError } from '@nsbox/core';
import type { CheckpointEngine, CheckpointEngines } from '@nsbox/runtime-api';

export class CheckpointEngineSlot implements CheckpointEngines {
  private engine: CheckpointEngine | undefined;

  install(engine: CheckpointEngine): () => void {
    if (this.engine && this.engine !== engine) {
      throw new NsboxError('E_BUSY', `a checkpoint engine (${this.engine.name}) is installed already; cannot install ${engine.name}`, {
        details: { installed: this.engine.name, engine: engine.name },
      });
    }
    this.engine = engine;
    return () => {
      if (this.engine === engine) this.engine = undefined;
    };
  }

  current(): CheckpointEngine | undefined {
    return this.engine;
  }

  /** The engine, or E_UNSUPPORTED saying what is missing. */
  require(box: Pick<Box, 'name'>, operation: 'checkpoint' | 'restore'): CheckpointEngine {
    if (this.engine) return this.engine;
    throw new NsboxError('E_UNSUPPORTED', `cannot ${operation} box '${box.name}': no checkpoint engine is installed (the migration plugin provides one)`, {
      details: { box: box.name },
    });
  }
}
