/**
 * What a tenant may set in the `isolation` section: only values that keep a box at least as
 * confined as the default. Host paths (mounts), host namespaces, privileged, devices, added
 * capabilities, seccomp relaxations and id maps are the host admin's (or granted by them).
 */

import type { TenantSafeFields } from '@nsbox/core';

export const isolationTenantSafe: TenantSafeFields = {
  privileged: { values: [false] },
  noNewPrivileges: { values: [true] },
  'capabilities.drop': true,
  'seccomp.profile': { values: ['default'] },
  'seccomp.deny': true,
  readonlyRoot: true,
  // hidepid and subset=pid only hide more of the box's own /proc.
  procfs: true,
  'namespaces.network': { values: ['private'] },
};
