/**
 * The kernel strings of `nsbox set NAME --kernel-release R [--kernel-version V]`: what
 * `uname -r` and `uname -v` say in the box, kept in the plugin's section and, on a running box
 * that has the host answer uname already, given to it at once — its nsbox-notify helper is
 * started again with the new values (runtime-api NotifyService). A box whose uname was the
 * kernel's at its start gets them at its next start: its seccomp filter is fixed.
 */

import { isNsboxError, z } from '@nsbox/core';
import type { NotifyService } from '@nsbox/runtime-api';
import { type KernelIdentity, kernelSchema, virtualisationConfigSchema } from '../config-schema.js';
import { notifyRulesFor } from '../notify-rules.js';

/** `host`: the host's strings again (the section's `kernel` removed). */
const HOST = 'host';

export const kernelOptions = {
  kernelRelease: { flags: '--kernel-release <release>', description: "what uname -r says in the box ('host': the host's)" },
  kernelVersion: { flags: '--kernel-version <version>', description: 'what uname -v says in the box (with a release)' },
};

export const kernelInputFields = {
  kernelRelease: z.union([z.literal(HOST), kernelSchema.shape.release]).optional(),
  kernelVersion: kernelSchema.shape.version,
};

export interface KernelValues {
  kernelRelease?: string;
  kernelVersion?: string;
}

export const givesKernel = (values: KernelValues): boolean => values.kernelRelease !== undefined || values.kernelVersion !== undefined;

/** The section's `kernel` after the change: undefined for the host's strings. */
export function changedKernel(current: KernelIdentity | undefined, values: KernelValues): KernelIdentity | undefined {
  if (values.kernelRelease === HOST) return undefined;
  const release = values.kernelRelease ?? current?.release;
  // A version alone on a box with the host's release: the release check names what is missing.
  const version = values.kernelVersion ?? (values.kernelRelease === undefined ? current?.version : undefined);
  return { release, ...(version !== undefined ? { version } : {}) } as KernelIdentity;
}

export interface KernelShown {
  release: string;
  version: string;
  live?: boolean;
  /** Why a running box gets them only at its next start. */
  reason?: string;
}

export function shownKernel(config: unknown): KernelShown | undefined {
  const kernel = virtualisationConfigSchema.parse(config ?? {}).kernel;
  return kernel ? { release: kernel.release, version: kernel.version ?? "the host's" } : undefined;
}

/** Gives a running box its new strings through its notify helper, or says why not. */
export function applyKernelLive(notify: NotifyService | undefined, box: Parameters<NotifyService['updateRules']>[0]): Pick<KernelShown, 'live' | 'reason'> {
  if (!notify) return { live: false, reason: 'this host has no runtime that answers uname for a box' };
  const config = virtualisationConfigSchema.parse(box.config.virtualisation ?? {});
  try {
    const outcome = notify.updateRules(box, 'virtualisation', notifyRulesFor(config));
    return outcome.live ? { live: true } : { live: false, reason: outcome.reason };
  } catch (error) {
    // The init ended meanwhile: the strings are kept, and its next start has them.
    if (isNsboxError(error) && error.code === 'E_INVALID_STATE') return { live: false, reason: 'the box has no running init' };
    throw error;
  }
}
