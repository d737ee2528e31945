/** `criu check` on this host, for `nsbox migration check` and the host's info: its verdict as criu words it. */

import { readFileSync } from 'node:fs';
import { findCriu } from './criu-install.js';
import { type CriuResult, criuErrors, runCriu } from './criu-run.js';
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
  /**
   * Post-copy works: the kernel's userfaultfd handles the events criu's lazy-pages daemon needs
   * (`criu check --feature uffd-noncoop`), so memory can move after the box runs on the target.
   */
  lazyPages?: boolean;
  /** Why not, as criu said it. */
  lazyPagesWhy?: string;
}

/** The sysctl that lets a task without CAP_SYS_PTRACE in the host's user namespace open a userfaultfd. */
export const UNPRIVILEGED_UFFD = '/proc/sys/vm/unprivileged_userfaultfd';

/** The largest pipe an unprivileged F_SETPIPE_SZ may ask for (root without CAP_SYS_RESOURCE is bound by it too). */
export const PIPE_MAX_SIZE = '/proc/sys/fs/pipe-max-size';
/** What criu's page pipes grow to (PIPE_MAX_SIZE in its page-pipe.c). */
export const LAZY_PIPE_BYTES = 4 * 1024 * 1024;

/**
 * Post-copy's verdict: criu's uffd check, and the kernel letting the restored tasks open their
 * userfaultfd — they do it inside the box's user namespace, where they have no CAP_SYS_PTRACE
 * of the host's, so only with vm.unprivileged_userfaultfd=1 (an admin's choice: it lets any
 * user open one; nsbox never changes it), and on the source pipes large enough for criu's page
 * server (fs.pipe-max-size ≥ 4 MiB, also the admin's).
 */
function lazyPagesVerdict(uffd: CriuResult): Pick<CriuCheckResult, 'lazyPages' | 'lazyPagesWhy'> {
  if (uffd.code !== 0) {
    return { lazyPages: false, lazyPagesWhy: criuErrors(uffd.output, 2) || `criu check --feature uffd-noncoop exited with ${uffd.code ?? uffd.signal}` };
  }
  // No such sysctl: the kernel lets anyone open one.
  const unprivileged = readSysctl(UNPRIVILEGED_UFFD, '1');
  if (unprivileged !== '1') {
    return {
      lazyPages: false,
      lazyPagesWhy: `vm.unprivileged_userfaultfd is ${unprivileged}: a restored box's tasks open their userfaultfd inside its user namespace, which needs it at 1`,
    };
  }
  const pipeMax = readSysctl(PIPE_MAX_SIZE, String(LAZY_PIPE_BYTES));
  if (Number(pipeMax) < LAZY_PIPE_BYTES) {
    return {
      lazyPages: false,
      lazyPagesWhy: `fs.pipe-max-size is ${pipeMax}: criu's page server holds the memory it owes in pipes it grows to 4 MiB, and fails with less (page-pipe: splice: Bad file descriptor)`,
    };
  }
  return { lazyPages: true };
}

function readSysctl(file: string, otherwise: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return otherwise;
  }
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
    const options = { ...(this.settings.fault ? { fault: this.settings.fault } : {}), timeoutMs: 60_000 };
    // The two features' probes beside the whole check: each criu call costs its kernel probing.
    const [result, tracking, uffd] = await Promise.all([
      runCriu(lookup.install, ['check'], options),
      runCriu(lookup.install, ['check', '--feature', 'mem_dirty_track'], options),
      runCriu(lookup.install, ['check', '--feature', 'uffd-noncoop'], options),
    ]);
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
      ...lazyPagesVerdict(uffd),
    };
  }
}
