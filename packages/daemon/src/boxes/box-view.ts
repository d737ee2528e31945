/** A box as the API shows it: the stored box; lists leave out the (large) OCI spec. */

import type { Box } from '@nsbox/core';

export function boxView(box: Box, options: { spec?: boolean; lastExit?: unknown } = {}): Box {
  // lastExit: what the shim recorded when init last exited (exit code or signal, and when).
  if (options.spec) return options.lastExit ? { ...box, runtime: { ...box.runtime, lastExit: options.lastExit } } : box;
  const { spec: _spec, ...runtime } = box.runtime;
  return { ...box, runtime };
}
