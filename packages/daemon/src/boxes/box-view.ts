/** A box as the API shows it: the stored box; lists leave out the (large) OCI spec. */

import { type Box, runtimeWithoutSpec } from '@nsbox/core';

export function boxView(box: Box, options: { spec?: boolean; lastExit?: unknown } = {}): Box {
  // lastExit: what the shim recorded when init last exited (exit code or signal, and when).
  if (options.spec) return options.lastExit ? { ...box, runtime: { ...box.runtime, lastExit: options.lastExit } } : box;
  // A listed box has no spec already (LocalBoxApi's listedBox): nothing to copy.
  if (!Object.hasOwn(box.runtime, 'spec')) return box;
  return { ...box, runtime: runtimeWithoutSpec(box.runtime) };
}
