/**
 * The seccomp user-notify handoff: a plugin declares, in its `spec` hook, which syscalls of
 * a box are answered on the host and by which built-in handler, with its parameters. It
 * never gets a listener fd or runs code per syscall: the handlers are fixed C functions of
 * `nsbox-notify`, the box's own helper, which the box's shim starts and starts again when
 * it dies (native/PROTOCOL.md §2). Why there, and not in nsboxd or a host-wide daemon:
 * - a crash reaches one box only, and heals by itself: the shim keeps the listener fds, so
 *   the kernel holds the box's notified calls (they wait, never fail) until the next helper
 *   reads them, and a request the dead one was answering is answered again by the next;
 * - nothing host-wide serves a running box (lxcfs's crash breaks every container), and
 *   nsboxd may stop or be upgraded while boxes run;
 * - C, static, no allocation in its loop: a few hundred KiB per box, next to the shim.
 *
 * The runtime turns the rules into `notify` rules of the box's seccomp filter (added to
 * whatever profile the spec has; a rule for the same syscall yields to the notify rule, as
 * the handler then decides), a listener sent to the shim by the launcher in create and join
 * mode (an exec'd process is answered too), and the helper's config (cgroup file paths
 * filled in by the runtime, which owns the cgroup). Carried in the spec under the launch
 * annotation, like the other launch contributions.
 */

import { type Box, NsboxError, type OciSpec } from '@nsbox/core';
import { contributeLaunch, LAUNCH_ANNOTATION, launchContributions } from './launch.js';

/** The built-in handlers and their parameters. */
export interface NotifyHandlers {
  /**
   * uname(2): `release` and `version` instead of the host's (each at most 64 bytes of
   * printable ASCII); node and domain names stay the caller's own (its UTS namespace).
   */
  uname: { release?: string; version?: string };
  /**
   * sysinfo(2): totalram/freeram from the box's memory limit and usage (when it has a
   * limit), swap from its swap limit, procs from its pids count, uptime from its start (its
   * time namespace's, when it has one); loads from its own load average when it has the
   * `loadavg` view (proc-views.ts), else the host's. No parameters: the runtime knows the
   * box's cgroup and views.
   */
  sysinfo: Record<string, never>;
  /**
   * quotactl(2): with `reason` (printable ASCII, at most 200 characters), refused with
   * EOPNOTSUPP and the reason written to the box's shim.log with the caller's pid — for a
   * host whose kernel cannot serve quotas inside a box. Without it, served on the box's own
   * disk image (the launch contribution `diskImage`: the runtime gives the helper its loop
   * device and id maps): Q_GETQUOTA, Q_SETQUOTA, Q_GETNEXTQUOTA, Q_GETINFO, Q_SETINFO,
   * Q_GETFMT, Q_SYNC, with the box's ids and the box's root's rights; any other device is
   * refused, and a box without an image gets the refusal with its reason.
   */
  quotactl: { reason?: string };
  /** quotactl_fd(2): as `quotactl`. */
  quotactl_fd: { reason?: string };
  /**
   * syslog(2) (klogctl, busybox `dmesg`): the box's own kernel log — the `kmsg.log` its
   * /proc views server keeps (the `kmsg` view) — never the host's. No parameters.
   */
  syslog: Record<string, never>;
}

export type NotifyHandlerName = keyof NotifyHandlers;

/** The syscalls each handler can answer. */
export const notifyHandlerSyscalls: { readonly [H in NotifyHandlerName]: readonly string[] } = {
  uname: ['uname'],
  sysinfo: ['sysinfo'],
  quotactl: ['quotactl'],
  quotactl_fd: ['quotactl_fd'],
  syslog: ['syslog'],
};

/** One rule: this syscall of the box goes to this handler, with these parameters. */
export type NotifyRule = {
  [H in NotifyHandlerName]: { syscall: string; handler: H; params?: NotifyHandlers[H] };
}[NotifyHandlerName];

/** A rule with the plugin that contributed it. */
export type OwnedNotifyRule = NotifyRule & { owner: string };

/** Printable ASCII that fits a `struct utsname` field (64 bytes and its NUL). */
const utsField = /^[\x20-\x7e]{1,64}$/;
/** A reason written to a log line: printable ASCII, one line. */
const reasonText = /^[\x20-\x7e]{1,200}$/;

/** Each handler's parameters and the text each must be. */
const handlerParams: { readonly [H in NotifyHandlerName]: Readonly<Record<string, { pattern: RegExp; what: string }>> } = {
  uname: {
    release: { pattern: utsField, what: '1 to 64 printable ASCII characters' },
    version: { pattern: utsField, what: '1 to 64 printable ASCII characters' },
  },
  sysinfo: {},
  quotactl: { reason: { pattern: reasonText, what: '1 to 200 printable ASCII characters' } },
  quotactl_fd: { reason: { pattern: reasonText, what: '1 to 200 printable ASCII characters' } },
  syslog: {},
};

function invalid(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_CONFIG', `${field}: ${message}`, { details: { field } });
}

/** Checks a rule as the helper will (so a bad one fails the spec, not the box's start). */
export function checkNotifyRule(rule: NotifyRule, field = 'notify'): void {
  const syscalls = notifyHandlerSyscalls[rule.handler] as readonly string[] | undefined;
  if (!syscalls) throw invalid(`${field}.handler`, `no built-in handler '${rule.handler}' (there are: ${Object.keys(notifyHandlerSyscalls).join(', ')})`);
  if (!syscalls.includes(rule.syscall)) throw invalid(`${field}.syscall`, `handler '${rule.handler}' answers ${syscalls.join(', ')}, not '${rule.syscall}'`);
  const params = (rule.params ?? {}) as Record<string, unknown>;
  const known = handlerParams[rule.handler];
  for (const [key, value] of Object.entries(params)) {
    const param = known[key];
    if (!param) throw invalid(`${field}.params.${key}`, `handler '${rule.handler}' has no parameter '${key}'`);
    if (typeof value !== 'string' || !param.pattern.test(value)) throw invalid(`${field}.params.${key}`, `must be ${param.what}`);
  }
}

/** The rules every plugin contributed to this spec. */
export function notifyRules(spec: Pick<OciSpec, 'annotations'>): OwnedNotifyRule[] {
  return launchContributions(spec).notify ?? [];
}

/**
 * Adds `owner`'s rules to the spec (replacing what `owner` contributed before). A syscall
 * another plugin already has answered is refused, naming both: one handler per syscall.
 */
export function contributeNotify(spec: Pick<OciSpec, 'annotations'>, owner: string, rules: NotifyRule[]): void {
  const kept = notifyRules(spec).filter((rule) => rule.owner !== owner);
  rules.forEach((rule, index) => {
    checkNotifyRule(rule, `annotations.${LAUNCH_ANNOTATION}.notify[${index}]`);
    const other = kept.find((existing) => existing.syscall === rule.syscall);
    if (other)
      throw invalid(
        `annotations.${LAUNCH_ANNOTATION}.notify`,
        `syscall '${rule.syscall}' is answered by plugin '${other.owner}' already; '${owner}' cannot add another handler`,
      );
    kept.push({ ...rule, owner } as OwnedNotifyRule);
  });
  contributeLaunch(spec, { notify: kept });
}

/** What became of new parameters for a running box's notified syscalls. */
export type NotifyUpdate = { live: true } | { live: false; reason: string };

/** A running box's notified values changed live (`nsbox set` of its kernel strings). */
export interface NotifyService {
  /**
   * Gives `owner`'s rules new parameters on the running box: its nsbox-notify config is
   * written anew and its helper started again by its shim (no call is lost: the shim keeps
   * the listeners, and a request in flight is answered by the next helper). The syscalls
   * answered must stay those the box started with — its seccomp filter is fixed at start —
   * otherwise nothing changes and `live: false` says why (the next start takes the rules
   * from the spec). E_INVALID_STATE when the box has no running init.
   */
  updateRules(box: Box, owner: string, rules: NotifyRule[]): NotifyUpdate;
}
