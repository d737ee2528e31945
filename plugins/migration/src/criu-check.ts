/** `criu check` on this host, for `nsbox migration check` and the host's info: its verdict as criu words it. */

import { findCriu } from './criu-install.js';
import { runCriu } from './criu-run.js';
import type { MigrationSettings } from './settings.js';

export interface CriuCheckResult {
  installed: boolean;
  prefix: string;
  version?: string;
  /** `criu check` exited 0 ("Looks good."). */
  ok: boolean;
  /** criu's last line, or why there is no criu. */
  verdict: string;
  /** Its other lines (warnings about features the kernel lacks). */
  notes: string[];
  /**
   * The kernel tracks dirty memory (soft-dirty): criu's `pre-dump` works, so memory could be
   * copied while the box runs (pre-copy). Not on kernels without CONFIG_MEM_SOFT_DIRTY.
   */
  dirtyTracking?: boolean;
}

/** `criu check` probes the kernel (about a second here): the host's facts reuse a verdict this long. */
const CACHE_MS = 5 * 60_000;

export class CriuChecker {
  private cached: { at: number; result: Promise<CriuCheckResult> } | undefined;

  constructor(
    private readonly prefix: string,
    private readonly settings: MigrationSettings,
  ) {}

  /** The last verdict if it is recent, else a new one (the host's facts). */
  recent(now = Date.now()): Promise<CriuCheckResult> {
    if (!this.cached || now - this.cached.at > CACHE_MS) this.cached = { at: now, result: this.check() };
    return this.cached.result;
  }

  async check(): Promise<CriuCheckResult> {
    const lookup = findCriu(this.prefix);
    if (!lookup.found) return { installed: false, prefix: this.prefix, ok: false, verdict: lookup.reason, notes: [] };
    const result = await runCriu(lookup.install, ['check'], { ...(this.settings.fault ? { fault: this.settings.fault } : {}), timeoutMs: 60_000 });
    const tracking = await runCriu(lookup.install, ['check', '--feature', 'mem_dirty_track'], {
      ...(this.settings.fault ? { fault: this.settings.fault } : {}),
      timeoutMs: 60_000,
    });
    const lines = result.output
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    return {
      installed: true,
      prefix: this.prefix,
      version: lookup.install.version,
      ok: result.code === 0,
      verdict: lines[lines.length - 1] ?? `criu check exited with ${result.code ?? result.signal}`,
      notes: lines.slice(0, -1),
      dirtyTracking: tracking.code === 0,
    };
  }
}
