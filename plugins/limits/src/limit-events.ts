/**
 * Limit events (OOM kills, the pids limit refusing a fork, a full disk) into the box's
 * history. Boxes outlive the CLI that started them, so there is no watcher process: the
 * kernel counts (memory oom_kill, pids.events max) and nsbox compares the counts with what
 * it last recorded whenever it looks at the box — `nsbox limits`/`info`, every live update,
 * stop, and a box found dead by sync (whose cgroup is still there to read). A daemon calls
 * poll() on a timer. Each count is claimed once in the plugin state, so two processes
 * looking at once report an event once.
 */

import { type Box, CoreTokens, type EventBus, inject, injectable, type PluginStateStore } from '@nsbox/core';
import { CgroupLimits } from './cgroup-limits.js';
import type { LimitsConfig } from './config-schema.js';
import { DiskLimits } from './disk/disk-limits.js';
import type { LimitsHostSettings } from './host-settings.js';
import { LimitsTokens } from './tokens.js';

const NAMESPACE = 'limits.events';

interface Seen {
  oomKills: number;
  pidsMax: number;
  diskFull: boolean;
}

/** A disk counts as full when less than this share of it is left (ext4 keeps a little back). */
const FULL_SHARE = 0.01;

@injectable()
export class LimitEvents {
  constructor(
    @inject(CoreTokens.PluginState) private readonly state: PluginStateStore,
    @inject(CoreTokens.EventBus) private readonly events: EventBus,
    @inject(CgroupLimits) private readonly cgroups: CgroupLimits,
    @inject(DiskLimits) private readonly disk: DiskLimits,
    @inject(LimitsTokens.HostSettings) private readonly settings: LimitsHostSettings,
  ) {}

  private seen(box: Pick<Box, 'id'>): Seen {
    const stored = this.state.get(NAMESPACE, box.id);
    return stored === undefined ? { oomKills: 0, pidsMax: 0, diskFull: false } : (JSON.parse(stored) as Seen);
  }

  /** Compares the kernel's counts with the last recorded ones and reports what is new. */
  poll(box: Pick<Box, 'id' | 'name' | 'config' | 'runtime'>): string[] {
    if (!this.cgroups.available) return [];
    const config = box.config['limits'] as LimitsConfig | undefined;
    const seen = this.seen(box);
    const reported: string[] = [];
    const counters = this.cgroups.counters(box);
    if (counters) {
      if (counters.oomKills > seen.oomKills && this.claim(box, 'oom', counters.oomKills)) {
        this.report(box, 'oom', { killed: counters.oomKills - seen.oomKills, total: counters.oomKills, memory: config?.memory ?? null });
        reported.push('oom');
      }
      if (counters.pidsMax > seen.pidsMax && this.claim(box, 'pids-max', counters.pidsMax)) {
        this.report(box, 'pids-max', { refused: counters.pidsMax - seen.pidsMax, total: counters.pidsMax, pids: config?.pids ?? this.settings.defaultPids });
        reported.push('pids-max');
      }
      seen.oomKills = Math.max(seen.oomKills, counters.oomKills);
      seen.pidsMax = Math.max(seen.pidsMax, counters.pidsMax);
    }
    const usage = this.disk.record(box) ? this.safeUsage(box) : undefined;
    if (usage) {
      const full = usage.available <= usage.size * FULL_SHARE;
      if (full && !seen.diskFull) {
        this.report(box, 'disk-full', { used: usage.used, size: usage.size, available: usage.available, disk: usage.limit });
        reported.push('disk-full');
      }
      seen.diskFull = full;
    }
    this.state.set(NAMESPACE, box.id, JSON.stringify(seen));
    return reported;
  }

  private safeUsage(box: Pick<Box, 'id' | 'name' | 'config' | 'runtime'>) {
    try {
      return this.disk.usage(box);
    } catch {
      return undefined;
    }
  }

  /** A new cgroup counts from zero: forget what was recorded for the last one. */
  reset(box: Pick<Box, 'id'>): void {
    for (const { key } of this.state.list(NAMESPACE, box.id)) if (key === box.id || key.startsWith(`${box.id}/`)) this.state.delete(NAMESPACE, key);
  }

  private claim(box: Pick<Box, 'id'>, kind: string, count: number): boolean {
    return this.state.claim(NAMESPACE, `${box.id}/${kind}/${count}`, String(Date.now()));
  }

  private report(box: Pick<Box, 'id' | 'name'>, kind: string, data: Record<string, unknown>): void {
    this.events.publish({ boxId: box.id, kind: `limits.${kind}`, source: 'limits', data: { box: box.name, ...data } });
  }
}
