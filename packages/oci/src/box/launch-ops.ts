/**
 * The launcher ops nsbox-runc adds to a box's program, beside what the runtime compiles
 * from the spec (native/PROTOCOL.md §1):
 *   - `hold`: the box is built at create and its init waits, as the launcher, until `start`
 *     connects to a socket in the box's state directory (the box never sees it): no helper
 *     program, no fifo and no mount of the runtime's in the box;
 *   - the create-time hooks, each at its moment in the launcher (prestart and createRuntime
 *     on the host once the namespaces exist, createContainer in them before pivot_root,
 *     startContainer in the box before the user's program), with the state on stdin;
 *   - `seccomp.listener` for `linux.seccomp.listenerPath`;
 *   - `preserve_fds` for --preserve-fds and socket activation (LISTEN_FDS).
 */

import type { OciSpec } from '@nsbox/core';
import type { LaunchOp } from '@nsbox/runtime';
import type { HookName } from '../bundle/spec-support.js';
import { hooksOf, type OciHook } from './oci-hooks.js';

/** The hooks the launcher runs; poststart and poststop are the server's (oci-hooks.ts). */
const LAUNCHER_HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer'] as const satisfies readonly HookName[];

export interface LaunchContext {
  /** The socket `start` connects to (the box's state directory). */
  startSocket: string;
  /** runtime-spec State without `pid` (the launcher adds it): id, bundle, annotations. */
  state: { ociVersion: string; id: string; bundle: string; annotations: Record<string, string> };
  /** The environment of nsbox-runc's caller: a hook without `env` runs with it, as runc's do. */
  callerEnv: string[];
  /** fds 3 … 2+N of the caller that the box gets. */
  preserveFds: number;
}

function stateJson(context: LaunchContext, status: string): string {
  return JSON.stringify({ ...context.state, status });
}

function hookOp(kind: (typeof LAUNCHER_HOOKS)[number], hook: OciHook, spec: OciSpec, context: LaunchContext): LaunchOp {
  // prestart and createRuntime see a box being created; the hooks in the box one that is
  // created (runc, crun). In the box, a hook without env gets the box process's.
  const status = kind === 'prestart' || kind === 'createRuntime' ? 'creating' : 'created';
  const env = hook.env ?? (kind === 'startContainer' ? (spec.process.env ?? []) : context.callerEnv);
  const args = hook.args ?? [];
  // In the box the working directory is the process's; elsewhere the bundle, as crun does.
  const cwd = kind === 'startContainer' ? '' : context.state.bundle;
  return ['hook', kind, String(hook.timeout ?? 0), cwd, stateJson(context, status), hook.path, String(args.length), ...args, ...env];
}

/** `seccomp.listener` for a filter with SCMP_ACT_NOTIFY rules: the agent gets each process's listener. */
export function listenerOps(spec: OciSpec, state: string): LaunchOp[] {
  const seccomp = spec.linux.seccomp as { listenerPath?: string; listenerMetadata?: string } | undefined;
  if (!seccomp?.listenerPath) return [];
  return [['seccomp.listener', seccomp.listenerPath, state, ...(seccomp.listenerMetadata ? [seccomp.listenerMetadata] : [])]];
}

export function ociLaunchOps(spec: OciSpec, context: LaunchContext): LaunchOp[] {
  const ops: LaunchOp[] = [['hold', context.startSocket]];
  if (context.preserveFds > 0) ops.push(['preserve_fds', String(context.preserveFds)]);
  for (const kind of LAUNCHER_HOOKS) {
    for (const hook of hooksOf(spec, kind) ?? []) ops.push(hookOp(kind, hook, spec, context));
  }
  ops.push(...listenerOps(spec, stateJson(context, 'creating')));
  return ops;
}
