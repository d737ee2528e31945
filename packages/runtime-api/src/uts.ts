/** A running box's host and domain names, changed live (its UTS namespace). */

import type { Box } from '@nsbox/core';

export interface UtsNames {
  hostname: string;
  /** Left out: the domain name stays as it is. */
  domainname?: string;
}

export interface UtsService {
  /**
   * Sets the names in the running box's UTS namespace, through a pidfd of its init (checked
   * to be that init: no pid reuse). E_INVALID_STATE when the box has no running init. The
   * box's config is the caller's to keep (the core's `hostname` field), for the next start.
   */
  setNames(box: Box, names: UtsNames): void;
}
