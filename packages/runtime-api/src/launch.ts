/**
 * Launch contributions: what a plugin asks of the launcher beyond the OCI spec (an idmapped
 * rootfs, mount attributes of the root, IP confinement with cgroup BPF). Typed here; carried
 * inside the spec under one reserved annotation so that a spec written to disk (nsbox-runc's
 * config.json, a box's stored spec) stays whole. Tenants cannot set `org.nsbox.*` annotations.
 */

import type { OciSpec } from '@nsbox/core';
import type { OwnedNotifyRule } from './notify.js';
import type { ProcViews } from './proc-views.js';

export const LAUNCH_ANNOTATION = 'org.nsbox.launch';

export interface LaunchContributions {
  /** Show the rootfs through an idmapped mount for the box's user namespace. */
  rootfsIdmap?: boolean;
  /** Mount attributes set on the root on the host side (`nosuid`, `nodev`). */
  rootfsOptions?: string[];
  /** IP confinement on the host's stack: the addresses the box may bind and send from ([] = none). */
  ipConfinement?: string[];
  /**
   * The box's root is a filesystem image of its own (limits' disk limit), mounted on the host
   * here: quotactl in the box is served on it (the notify helper's quotactl handlers).
   */
  diskImage?: string;
  /** Syscalls answered by the box's notify helper (`contributeNotify`, notify.ts). */
  notify?: OwnedNotifyRule[];
  /** /proc and /sys files served per box by its own nsbox-proc-view (`contributeProcViews`, proc-views.ts). */
  procViews?: ProcViews;
  /** The signal `stop` sends the init first, before the timeout and SIGKILL (systemd halts on SIGRTMIN+3); SIGTERM unless given. */
  stopSignal?: number;
}

/** What the spec's plugins contributed so far. */
export function launchContributions(spec: Pick<OciSpec, 'annotations'>): LaunchContributions {
  const text = spec.annotations?.[LAUNCH_ANNOTATION];
  if (!text) return {};
  try {
    return JSON.parse(text) as LaunchContributions;
  } catch {
    throw new Error(`annotation ${LAUNCH_ANNOTATION} is not valid JSON`);
  }
}

/** Adds (or replaces) contributions in the spec. */
export function contributeLaunch(spec: Pick<OciSpec, 'annotations'>, contributions: LaunchContributions): void {
  const merged = { ...launchContributions(spec), ...contributions };
  spec.annotations = { ...spec.annotations, [LAUNCH_ANNOTATION]: JSON.stringify(merged) };
}
