/**
 * Seccomp denials from the kernel log. A box's filter is loaded with SECCOMP_FILTER_FLAG_LOG
 * (this plugin's prepare hook), so the kernel writes an audit record for each syscall it
 * answers with an errno —
 * `audit: type=1326 audit(…): auid=… uid=100000 gid=100000 ses=… pid=4321 comm="mount"
 * exe="/bin/busybox" sig=0 arch=c000003e syscall=165 compat=0 ip=0x… code=0x50000` —
 * with the caller's host uid and pid (init namespaces), the architecture and the syscall's
 * number (named here through libseccomp), and the action without its errno (`code`).
 *
 * Without auditd the records reach /dev/kmsg through printk_ratelimit() (10 lines per 5 s by
 * default, host-wide, shared with other kernel messages that use it); what it drops the
 * kernel sums up as `kauditd_printk_skb: N callbacks suppressed`, counted here as
 * `suppressed`: denials that happened and cannot be told apart.
 */

export interface SeccompDenial {
  /** Host pid and uid of the caller. */
  pid: number;
  uid: number;
  command: string;
  exe?: string;
  /** AUDIT_ARCH_* of the call (an i386 call from an x86_64 box differs). */
  arch: number;
  nr: number;
  /** The syscall's name, when known for the architecture. */
  syscall?: string;
  /** The filter's action: `errno`, `kill_thread`, `kill_process`, `trap`, ... */
  action: string;
}

export interface SeccompRecords {
  denials: SeccompDenial[];
  /** Audit records (and other printk_ratelimit() lines) the kernel dropped, host-wide. */
  suppressed: number;
}

/** Names a syscall from its AUDIT_ARCH_* and number (the native addon's libseccomp table). */
export type SyscallNamer = (auditArch: number, nr: number) => string | undefined;

const SECCOMP_RECORD = /audit: type=1326 audit\([^)]*\): (.*)$/;
const SUPPRESSED = /kauditd_printk_skb: (\d+) callbacks suppressed/;
/** `key=value`, `key="quoted value"`: audit's untrusted strings are quoted, or hex when they hold a space, a quote or a control byte. */
const FIELD = /(\w+)=("[^"]*"|\S+)/g;

/** SECCOMP_RET_* (the action part of `code`). */
const ACTIONS: Record<number, string> = {
  2147483648: 'kill_process',
  0: 'kill_thread',
  196608: 'trap',
  327680: 'errno',
  2143289344: 'user_notif',
  2146435072: 'trace',
  2147221504: 'log',
};

function untrusted(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('"')) return value.slice(1, -1);
  if (value === '(null)') return undefined;
  return /^([0-9A-F]{2})+$/.test(value) ? Buffer.from(value, 'hex').toString('utf8') : value;
}

/** Parses kmsg records (`PRIO,SEQ,TIME,FLAGS;message`) into seccomp denials and the count of suppressed lines. */
export function parseSeccompRecords(records: readonly string[], name: SyscallNamer): SeccompRecords {
  const out: SeccompRecords = { denials: [], suppressed: 0 };
  for (const record of records) {
    const message = record.slice(record.indexOf(';') + 1).trimEnd();
    const suppressed = SUPPRESSED.exec(message);
    if (suppressed) {
      out.suppressed += Number(suppressed[1]);
      continue;
    }
    const body = SECCOMP_RECORD.exec(message)?.[1];
    if (body === undefined) continue;
    const fields = new Map<string, string>();
    for (const [, key, value] of body.matchAll(FIELD)) fields.set(key as string, value as string);
    const pid = Number(fields.get('pid'));
    const nr = Number(fields.get('syscall'));
    const arch = Number.parseInt(fields.get('arch') ?? '', 16);
    if (!Number.isInteger(pid) || !Number.isInteger(nr) || !Number.isInteger(arch)) continue;
    const code = Number.parseInt(fields.get('code') ?? '', 16);
    const syscall = name(arch, nr);
    const exe = untrusted(fields.get('exe'));
    out.denials.push({
      pid,
      uid: Number(fields.get('uid')),
      command: untrusted(fields.get('comm')) ?? '',
      ...(exe !== undefined ? { exe } : {}),
      arch,
      nr,
      ...(syscall !== undefined ? { syscall } : {}),
      action: ACTIONS[(code & 0xffff0000) >>> 0] ?? `0x${code.toString(16)}`,
    });
  }
  return out;
}
