/** Typed refs of what this plugin binds and publishes (their tokens key its inversify bindings). */

import { createServiceRef } from '@nsbox/core';
import type { IsolationHostSettings } from './host-settings.js';
import type { IsolationInfo } from './isolation-info.js';
import type { IdPoolFiles, UidAllocator } from './uid-allocator.js';

export const isolationRefs = {
  /** Each box's host uid/gid range (published as `isolation.uidAllocator`). */
  uidAllocator: createServiceRef<UidAllocator>({ id: 'isolation.uid-allocator' }),
  /** Where the subordinate id pools are read from (/etc/subuid, /etc/subgid); a test may bind its own. */
  poolFiles: createServiceRef<IdPoolFiles>({ id: 'isolation.pool-files' }),
  /** The box's section of `nsbox info` (contributed to the box-info point). */
  boxInfo: createServiceRef<IsolationInfo>({ id: 'isolation.box-info' }),
  /** The admin's `settings.isolation` from the host config. */
  hostSettings: createServiceRef<IsolationHostSettings>({ id: 'isolation.host-settings' }),
} as const;

/** The refs' inversify tokens, for `@inject` and bindings. */
export const IsolationTokens = {
  UidAllocator: isolationRefs.uidAllocator.token,
  PoolFiles: isolationRefs.poolFiles.token,
  BoxInfo: isolationRefs.boxInfo.token,
  HostSettings: isolationRefs.hostSettings.token,
} as const;
