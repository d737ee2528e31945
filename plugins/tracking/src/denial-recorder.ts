/**
 * The flight recorder's seccomp denials: kernel audit records (seccomp-log.ts) attributed to
 * boxes, then one `tracking.seccomp-denied` event per box and round naming each syscall,
 * process and command with its count.
 *
 * A record names the caller by host pid and host uid. The pid is matched with the box's
 * processes at the sample; a process that ended before it (most denied commands fail and
 * exit) is matched by its uid, which falls in the box's own user-namespace range (isolation
 * gives every box its own). A record of neither (a host process, or a box that shares its
 * ids) is `unattributed`. A syscall the box's filter answers with an errno of its own
 * (clone3's ENOSYS) is `expected`, not a denial.
 */

import type { RecordedEvent } from './flight-recorder.js';
import type { BoxSample } from './sample.js';
import type { SeccompDenial } from './seccomp-log.js';

export interface AttributedDenials {
  byBox: Map<string, SeccompDenial[]>;
  unattributed: number;
  expected: number;
}

function boxOfUid(uid: number, samples: readonly BoxSample[]): BoxSample | undefined {
  const owners = samples.filter((sample) => sample.seccomp?.uids.some(([first, last]) => uid >= first && uid <= last));
  return owners.length === 1 ? owners[0] : undefined; // shared ids say nothing
}

export function attributeDenials(denials: readonly SeccompDenial[], samples: readonly BoxSample[]): AttributedDenials {
  const out: AttributedDenials = { byBox: new Map(), unattributed: 0, expected: 0 };
  if (denials.length === 0) return out;
  const byPid = new Map<number, BoxSample>();
  for (const sample of samples) for (const pid of sample.pids) byPid.set(pid, sample);
  for (const denial of denials) {
    const sample = byPid.get(denial.pid) ?? boxOfUid(denial.uid, samples);
    if (!sample) {
      out.unattributed += 1;
      continue;
    }
    if (denial.syscall !== undefined && denial.action === 'errno' && sample.seccomp?.expected.has(denial.syscall)) {
      out.expected += 1;
      continue;
    }
    out.byBox.set(sample.boxId, [...(out.byBox.get(sample.boxId) ?? []), denial]);
  }
  return out;
}

/** One event for a box's denials of a round: each syscall, pid and command once, with its count. */
export function denialEvent(sample: BoxSample, denials: readonly SeccompDenial[], total: number, suppressed: number): RecordedEvent {
  const grouped = new Map<string, { syscall: string; nr: number; action: string; pid: number; command: string; exe?: string; count: number }>();
  for (const denial of denials) {
    const syscall = denial.syscall ?? `#${denial.nr}`;
    const key = `${syscall}/${denial.pid}/${denial.command}/${denial.action}`;
    const entry = grouped.get(key);
    if (entry) entry.count += 1;
    else
      grouped.set(key, {
        syscall,
        nr: denial.nr,
        action: denial.action,
        pid: denial.pid,
        command: denial.command,
        ...(denial.exe !== undefined ? { exe: denial.exe } : {}),
        count: 1,
      });
  }
  return {
    kind: 'tracking.seccomp-denied',
    data: {
      box: sample.box,
      denials: denials.length,
      total,
      syscalls: [...grouped.values()],
      // Host-wide: records the kernel's printk limit dropped meanwhile, whoever made them.
      ...(suppressed > 0 ? { suppressedHostWide: suppressed } : {}),
    },
  };
}
