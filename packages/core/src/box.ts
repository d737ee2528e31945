/** The Box model and its state machine. */

export const stableStates = ['defined', 'created', 'running', 'paused', 'stopped'] as const;
export const transitionalStates = ['creating', 'starting', 'pausing', 'resuming', 'stopping', 'destroying'] as const;

export type StableState = (typeof stableStates)[number];
export type TransitionalState = (typeof transitionalStates)[number];
export type BoxState = StableState | TransitionalState;

/** The core's part of a box config; every other top-level key is a plugin's section. */
export interface CoreBoxConfig {
  rootfs?: string;
  template?: string;
  process?: { args?: string[]; env?: Record<string, string>; cwd?: string; user?: { uid: number; gid: number }; terminal?: boolean };
  hostname?: string;
  plugins?: { disable?: string[] };
  restart?: 'no' | 'on-failure' | 'always';
  annotations?: Record<string, string>;
}

export type BoxConfig = CoreBoxConfig & { [section: string]: unknown };

export interface Box {
  id: string;
  name: string;
  /** The tenant that owns the box (hosting panels); null for the host admin's boxes. */
  owner: string | null;
  config: BoxConfig;
  state: BoxState;
  /** Facts the runtime records about a running box (init pid, shim pid, cgroup paths...). */
  runtime: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/**
 * A box's runtime facts without its OCI spec, the spec never read: what a list shows. The
 * spec is most of a stored box, and the store parses it only when someone reads it.
 */
export function runtimeWithoutSpec(runtime: Box['runtime']): Box['runtime'] {
  const rest: Box['runtime'] = {};
  for (const key of Object.keys(runtime)) if (key !== 'spec') rest[key] = runtime[key];
  return rest;
}

/** Which stable states an operation may start from, the state it passes through and where it ends. */
export const operations = {
  create: { from: ['defined'], via: 'creating', to: 'created' },
  start: { from: ['created', 'stopped'], via: 'starting', to: 'running' },
  pause: { from: ['running'], via: 'pausing', to: 'paused' },
  resume: { from: ['paused'], via: 'resuming', to: 'running' },
  stop: { from: ['running', 'paused'], via: 'stopping', to: 'stopped' },
  destroy: { from: ['defined', 'created', 'stopped'], via: 'destroying', to: 'defined' },
  update: { from: ['defined', 'created', 'running', 'paused', 'stopped'], via: null, to: null },
  checkpoint: { from: ['running'], via: null, to: null },
  restore: { from: ['created', 'stopped'], via: 'starting', to: 'running' },
} as const satisfies Record<string, { from: readonly StableState[]; via: TransitionalState | null; to: StableState | null }>;

export type OperationKind = keyof typeof operations;

export function isStable(state: BoxState): state is StableState {
  return (stableStates as readonly string[]).includes(state);
}

const BOX_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Box names double as hostnames and cgroup names: DNS-label rules. */
export function boxNameProblem(name: string): string | undefined {
  if (BOX_NAME.test(name)) return undefined;
  return `box name '${name}' must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'`;
}
