/** Typed refs of what the limits plugin binds and publishes (their tokens key its inversify bindings). */

import { createServiceRef } from '@nsbox/core';
import type { Pools } from './disk/pools.js';
import type { LimitsHostSettings } from './host-settings.js';
import type { LimitsService } from './limits-service.js';

export const limitsRefs = {
  /** Checks, live changes, reports (published as 'limits'; contributes the box-info section). */
  service: createServiceRef<LimitsService>({ id: 'limits.service' }),
  /** Where box disk images live. */
  pools: createServiceRef<Pools>({ id: 'limits.pools' }),
  /** The admin's `settings.limits` from the host config. */
  hostSettings: createServiceRef<LimitsHostSettings>({ id: 'limits.host-settings' }),
} as const;

/** The refs' inversify tokens, for `@inject` and bindings. */
export const LimitsTokens = {
  Service: limitsRefs.service.token,
  Pools: limitsRefs.pools.token,
  HostSettings: limitsRefs.hostSettings.token,
} as const;
