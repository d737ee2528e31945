/**
 * Shared by the box commands: box summaries, option parsing, exit statuses. Loaded by every
 * command, so it imports no runtime (a command nsboxd serves never loads it).
 */

import type { Box } from '@nsbox/core';
import { NsboxError } from '@nsbox/core/light';
import type { BoxExit, LinuxRuntimeFacts } from '@nsbox/runtime';

export interface BoxSummary {
  name: string;
  id: string;
  state: string;
  owner: string | null;
  pid: number | null;
  rootfs: string | null;
  template: string | null;
  exit?: unknown;
}

export function summarize(box: Box): BoxSummary {
  const runtime = box.runtime as LinuxRuntimeFacts & { exit?: unknown };
  return {
    name: box.name,
    id: box.id,
    state: box.state,
    owner: box.owner,
    pid: box.state === 'running' || box.state === 'paused' ? (runtime.init?.pid ?? null) : null,
    rootfs: runtime.rootfs ?? box.config.rootfs ?? null,
    template: box.config.template ?? null,
    ...(runtime.exit ? { exit: runtime.exit } : {}),
  };
}

/** Parses repeated `-e KEY=VALUE` options. */
export function parseEnv(values: unknown): Record<string, string> | undefined {
  const list = (values as string[] | undefined) ?? [];
  if (list.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const item of list) {
    const index = item.indexOf('=');
    if (index <= 0) throw new NsboxError('E_INVALID_ARGUMENT', `environment variable '${item}' must be KEY=VALUE`, { details: { env: item } });
    env[item.slice(0, index)] = item.slice(index + 1);
  }
  return env;
}

export const collect = (value: string, previous: unknown): string[] => [...((previous as string[] | undefined) ?? []), value];

/** `--user UID[:GID]`. */
export function parseUser(value: unknown): { uid: number; gid: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const [uid, gid] = value.split(':').map(Number);
  return { uid: uid ?? 0, gid: gid ?? uid ?? 0 };
}

/** `--timeout` in seconds; what is not a number leaves the default. */
export function seconds(value: unknown): number | undefined {
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/** Exit status the way shells report it: the code, or 128 + the signal (the runtime's exitStatus, for a box's lastExit). */
export function exitStatus(exit: BoxExit | undefined): number | undefined {
  if (!exit) return undefined;
  if (exit.signal !== undefined) return 128 + exit.signal;
  return exit.exitCode;
}
