/** Box cgroups a test made under a parent of its own, removed with that parent after it. */

import { createCgroupDriver } from '@nsbox/runtime';
import type { Cleanup } from './cleanup.js';

/** After the test (failed or not): every box cgroup under `parent` is killed and removed, then the parent. */
export function removeCgroupsAfter(cleanup: Cleanup, parent: string): void {
  cleanup.add(`remove test cgroups under ${parent}`, async () => {
    const cgroups = createCgroupDriver({ parent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
}
