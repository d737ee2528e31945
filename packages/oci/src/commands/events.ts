/**
 * `events [--stats] [--interval 5s] ID`: runc's event stream — a `stats` object per
 * interval (one and done with --stats), and an `oom` event when the memory controller
 * counts a new OOM kill. Read from the box's cgroup through the runtime's cgroup driver.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';
import { ociStatus } from '../box/oci-state.js';
import { type CommandContext, stdout } from './context.js';

function read(context: CommandContext, name: string, controller: string, file: string): string | undefined {
  try {
    return context.runtime.cgroups.read(name, controller, file).trim();
  } catch {
    return undefined;
  }
}

function num(text: string | undefined): number | undefined {
  if (text === undefined || text === 'max') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function keyed(text: string | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) result[key] = Number(value);
  }
  return result;
}

/** runc's Stats shape (the parts cgroup files of both versions give). */
export function collectStats(context: CommandContext, name: string): Record<string, unknown> {
  const v1Memory = context.runtime.cgroups.layout.v1.memory !== undefined;
  const memory = v1Memory
    ? {
        usage: {
          usage: num(read(context, name, 'memory', 'memory.usage_in_bytes')),
          max: num(read(context, name, 'memory', 'memory.max_usage_in_bytes')),
          limit: num(read(context, name, 'memory', 'memory.limit_in_bytes')),
          failcnt: num(read(context, name, 'memory', 'memory.failcnt')),
        },
        swap: {
          usage: num(read(context, name, 'memory', 'memory.memsw.usage_in_bytes')),
          limit: num(read(context, name, 'memory', 'memory.memsw.limit_in_bytes')),
        },
        raw: keyed(read(context, name, 'memory', 'memory.stat')),
      }
    : {
        usage: { usage: num(read(context, name, 'memory', 'memory.current')), limit: num(read(context, name, 'memory', 'memory.max')) },
        swap: { usage: num(read(context, name, 'memory', 'memory.swap.current')), limit: num(read(context, name, 'memory', 'memory.swap.max')) },
        raw: keyed(read(context, name, 'memory', 'memory.stat')),
      };
  const cpuUsage = num(read(context, name, 'cpuacct', 'cpuacct.usage'));
  const cpuStat = keyed(read(context, name, 'cpu', 'cpu.stat'));
  const cpu = {
    usage: { total: cpuUsage ?? (cpuStat.usage_usec !== undefined ? cpuStat.usage_usec * 1000 : undefined) },
    throttling: {
      periods: cpuStat.nr_periods,
      throttled_periods: cpuStat.nr_throttled,
      throttled_time: cpuStat.throttled_time ?? (cpuStat.throttled_usec !== undefined ? cpuStat.throttled_usec * 1000 : undefined),
    },
  };
  const pids = { current: num(read(context, name, 'pids', 'pids.current')), limit: num(read(context, name, 'pids', 'pids.max')) };
  return { cpu, memory, pids };
}

export async function streamEvents(context: CommandContext, id: string, options: { stats?: boolean; interval?: string }): Promise<void> {
  const intervalMs = parseInterval(options.interval ?? '5s');
  let box = await context.runtime.get(id);
  if (options.stats) {
    stdout(context, `${JSON.stringify({ type: 'stats', id, data: collectStats(context, box.id) })}\n`);
    return;
  }
  let lastOom = num(read(context, box.id, 'memory', 'memory.oom_control')?.match(/oom_kill (\d+)/)?.[1]);
  while (!context.caller.isGone) {
    box = await context.runtime.get(id);
    if (ociStatus(box) === 'stopped') return;
    const oom = num(
      read(context, box.id, 'memory', 'memory.oom_control')?.match(/oom_kill (\d+)/)?.[1] ??
        keyed(read(context, box.id, 'memory', 'memory.events')).oom_kill?.toString(),
    );
    if (oom !== undefined && lastOom !== undefined && oom > lastOom) stdout(context, `${JSON.stringify({ type: 'oom', id })}\n`);
    lastOom = oom;
    stdout(context, `${JSON.stringify({ type: 'stats', id, data: collectStats(context, box.id) })}\n`);
    await Promise.race([sleep(intervalMs), context.caller.gone]);
  }
}

function parseInterval(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!match) throw new NsboxError('E_INVALID_ARGUMENT', `invalid --interval '${text}' (e.g. 5s, 500ms)`, { details: { field: '--interval' } });
  const value = Number(match[1]);
  const ms = match[2] === 'ms' ? value : match[2] === 'm' ? value * 60_000 : value * 1000;
  if (ms <= 0) throw new NsboxError('E_INVALID_ARGUMENT', '--interval must be more than 0', { details: { field: '--interval' } });
  return ms;
}
