/**
 * What the sampler reads in the kernel log: OOM-kill victims, and seccomp denials
 * (seccomp-log.ts). OOM-kill victims (/dev/kmsg): the kernel names the killed task with
 * the memory cgroup whose limit was hit —
 * `oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/nsbox/<box-id>,task_memcg=...,task=sh,pid=123,uid=0`
 * and `Memory cgroup out of memory: Killed process 123 (sh) total-vm:...kB, anon-rss:...kB, ...`.
 * The cgroup's counters say *that* a kill happened; only this says *whom*. Read without
 * blocking from the last record read on.
 */

import { closeSync, constants, openSync, readSync } from 'node:fs';
import { parseSeccompRecords, type SeccompRecords, type SyscallNamer } from './seccomp-log.js';

export interface OomVictim {
  pid: number;
  command: string;
  /** The memory cgroup whose limit was hit, as the kernel names it. */
  memcg: string;
  /** Resident anonymous memory of the victim, in bytes, when the kernel said. */
  anonRssBytes?: number;
  uid?: number;
}

const OOM_KILL = /oom-kill:.*?oom_memcg=([^,]+),task_memcg=[^,]*,task=(.*?),pid=(\d+),uid=(\d+)/;
const KILLED = /Killed process (\d+) \((.*?)\).*?anon-rss:(\d+)kB/;

/**
 * Whether the victim was killed at the box's memory cgroup or a cgroup below it. The kernel
 * names the cgroup from its hierarchy's root, and the box's directory is that path under the
 * hierarchy's mount, so the two meet at their ends: the box's id need not be a component of
 * it (the systemd driver's scope escapes its dashes, `nsbox-web-1a\x2d2b.scope`).
 */
export function isVictimOf(victim: OomVictim, box: { boxId: string; memoryCgroupDir?: string | undefined }): boolean {
  if (box.memoryCgroupDir === undefined) return victim.memcg.split('/').includes(box.boxId);
  for (let path = victim.memcg; path.startsWith('/') && path.length > 1; path = path.slice(0, path.lastIndexOf('/'))) {
    if (box.memoryCgroupDir.endsWith(path)) return true;
  }
  return false;
}

/**
 * /dev/kmsg writes a backslash and unprintable bytes as `\xNN`: a systemd scope's cgroup,
 * whose name holds `\x2d`, reads `\x5cx2d` there. Undone, so that the path is the
 * directory's name.
 */
function unescapeKmsg(text: string): string {
  return text.replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Parses a batch of kmsg records into victims (pairing each oom-kill line with its Killed line). */
export function parseOomVictims(records: readonly string[]): OomVictim[] {
  const victims: OomVictim[] = [];
  for (const record of records) {
    const message = unescapeKmsg(record.slice(record.indexOf(';') + 1));
    const kill = OOM_KILL.exec(message);
    if (kill) {
      victims.push({ memcg: kill[1] as string, command: kill[2] as string, pid: Number(kill[3]), uid: Number(kill[4]) });
      continue;
    }
    const killed = KILLED.exec(message);
    const last = victims.at(-1);
    if (killed && last && last.pid === Number(killed[1])) last.anonRssBytes = Number(killed[3]) * 1024;
  }
  return victims;
}

/** What one read of the kernel log found. */
export interface KernelRecords {
  victims: OomVictim[];
  seccomp: SeccompRecords;
}

export class KernelLog {
  private fd: number | undefined;
  private readonly buffer = Buffer.alloc(16 * 1024);

  constructor(private readonly syscallName: SyscallNamer) {}

  /** Records written since the last call (the first call: whatever the ring buffer still holds). */
  read(): string[] {
    if (this.fd === undefined) {
      try {
        this.fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        return []; // no kernel log here (a restricted host): kills are still counted, without a victim
      }
    }
    const records: string[] = [];
    for (;;) {
      try {
        const length = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
        if (length <= 0) break;
        records.push(this.buffer.toString('utf8', 0, length));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records were overwritten before we read them: go on with the next
        break; // EAGAIN: nothing more for now
      }
    }
    return records;
  }

  /**
   * What was written since the last call. The first call's seccomp records are dropped: they
   * were logged before this agent started, and the one before it may have reported them
   * (victims are kept: each waits for the kill counter that goes with it).
   */
  take(): KernelRecords {
    const first = this.fd === undefined;
    const records = this.read();
    return { victims: parseOomVictims(records), seccomp: first ? { denials: [], suppressed: 0 } : parseSeccompRecords(records, this.syscallName) };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
