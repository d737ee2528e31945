/** The typed refs of what the runtime offers plugins; declare them in a plugin's `deps`. */

import { createServiceRef } from '@nsbox/core';
import type { BoxFilesService } from './box-files.js';
import type { CgroupDriver } from './cgroups.js';

export const runtimeRefs = {
  /** The box cgroups (the runtime owns them; plugins read and write controller files). */
  cgroups: createServiceRef<CgroupDriver>({ id: 'runtime.cgroups' }),
  /** The host's state dir and each box's directory. */
  boxFiles: createServiceRef<BoxFilesService>({ id: 'runtime.box-files' }),
} as const;
