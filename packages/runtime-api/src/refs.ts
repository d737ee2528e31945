/** The typed refs of what the runtime offers plugins; declare them in a plugin's `deps`. */

import { createServiceRef } from '@nsbox/core';
import type { BoxFilesService } from './box-files.js';
import type { CgroupDriver } from './cgroups.js';
import type { CheckpointEngines } from './checkpoint.js';
import type { NotifyService } from './notify.js';
import type { CgroupManager } from './resources.js';
import type { RootfsLayers } from './rootfs-layers.js';
import type { UtsService } from './uts.js';

export const runtimeRefs = {
  /** The box cgroups (the runtime owns them; plugins read controller files and list processes). */
  cgroups: createServiceRef<CgroupDriver>({ id: 'runtime.cgroups' }),
  /** Resource arbitration: plugins declare the resources they want; the runtime merges and writes them. */
  cgroupManager: createServiceRef<CgroupManager>({ id: 'runtime.cgroup-manager' }),
  /** The host's state dir and each box's directory. */
  boxFiles: createServiceRef<BoxFilesService>({ id: 'runtime.box-files' }),
  /** A running box's host and domain names, set live. */
  uts: createServiceRef<UtsService>({ id: 'runtime.uts' }),
  /** A running box's notified values (nsbox-notify's rules' parameters), changed live. */
  notify: createServiceRef<NotifyService>({ id: 'runtime.notify' }),
  /** Where a plugin installs the engine behind checkpoint and restore (the migration plugin's CRIU). */
  checkpointEngines: createServiceRef<CheckpointEngines>({ id: 'runtime.checkpoint-engines' }),
  /** Template layers shared by boxes through overlayfs: a plugin chooses a box's layers at `provision`. */
  rootfsLayers: createServiceRef<RootfsLayers>({ id: 'runtime.rootfs-layers' }),
} as const;
