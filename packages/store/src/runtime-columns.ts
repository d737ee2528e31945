/**
 * A box's runtime facts are stored in two places: the `runtime` column of its row (pids, paths,
 * exit status: a few hundred bytes) and its row of `box_specs` (the OCI spec it was started
 * with, seccomp profile and all: tens of kilobytes). A listing neither reads nor parses the
 * spec; a box's `runtime.spec` is parsed at its first read, and a spec nobody read or replaced
 * is not written back.
 */

import { type Box, runtimeWithoutSpec } from '@nsbox/core';

type Runtime = Box['runtime'];

/** The getter of the lazy spec of each runtime object made here, and whether it was read or set. */
const lazySpecs = new WeakMap<Runtime, { get: () => unknown; touched: boolean }>();

/**
 * The runtime facts of a row: `runtime` parsed, with `spec`, when the row has one, an
 * enumerable property whose text `readSpec` gives (the row's column, or a read of it for a
 * listed row, which has none) and which is parsed at its first read. Assigning or deleting it
 * works as on any plain object.
 */
export function joinRuntime(runtimeText: string, readSpec: (() => string | null) | null): Runtime {
  const runtime = JSON.parse(runtimeText) as Runtime;
  if (readSpec === null) return runtime;
  let value: unknown;
  const lazy = {
    get: (): unknown => {
      if (!lazy.touched) {
        const text = readSpec();
        value = text === null ? undefined : JSON.parse(text);
        lazy.touched = true;
      }
      return value;
    },
    touched: false,
  };
  lazySpecs.set(runtime, lazy);
  Object.defineProperty(runtime, 'spec', {
    enumerable: true,
    configurable: true,
    get: lazy.get,
    set: (next: unknown) => {
      value = next;
      lazy.touched = true;
    },
  });
  return runtime;
}

/**
 * The two parts of runtime facts to write. `spec` is undefined when the stored one is to be left
 * as it is: the spec was read from the store and nobody read or replaced it since (a state
 * change of a listed box does not read, parse and write back tens of kilobytes).
 */
export function splitRuntime(runtime: Runtime): { runtime: string; spec: string | null | undefined } {
  return { runtime: JSON.stringify(runtimeWithoutSpec(runtime)), spec: specColumn(runtime) };
}

function specColumn(runtime: Runtime): string | null | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(runtime, 'spec');
  if (!descriptor) return null;
  const lazy = lazySpecs.get(runtime);
  if (lazy && descriptor.get === lazy.get && !lazy.touched) return undefined;
  const value = descriptor.get ? descriptor.get.call(runtime) : descriptor.value;
  return value === undefined ? null : JSON.stringify(value);
}
