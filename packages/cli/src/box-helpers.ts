/** Shared by the box commands: the Linux driver, box summaries, option parsing. */

import { type Box, NsboxError } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { LinuxBoxDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';

export function linuxDriver(host: NsboxHost): LinuxBoxDriver {
  if (host.driver instanceof LinuxBoxDriver) return host.driver;
  throw new NsboxError('E_UNSUPPORTED', 'this host has no Linux box driver');
}

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
