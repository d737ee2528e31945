/**
 * Multi-line kernel reports attributed to a box, judged by the box's views server as it
 * judges the host's /dev/kmsg. A hung task cannot be provoked safely here (it takes a task in
 * uninterruptible sleep for two minutes, or a change of the host's hung_task_timeout_secs),
 * so a recorded real one is replayed through `nsbox-proc-view --attribute PIDS`, which takes
 * those pids as the box's: the report of open-cas-linux issue #874 (kernel 5.10), as the
 * kernel printed it, record by record. The path end to end — the host's log, a real box, its
 * dmesg — is tested with a report that can be provoked: a segfault and its `Code:` line
 * (proc-views.test.ts).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { procViewPath } from '@nsbox/native';

/** Host records, `PRIO,SEQ,TS,FLAGS[,caller=...];TEXT`, numbered from `seq`. */
function records(lines: [number, string][], seq = 5000, caller?: (index: number) => string): string {
  return lines.map(([prio, text], index) => `${prio},${seq + index},${9_000_000 + index},-${caller ? `,caller=${caller(index)}` : ''};${text}\n`).join('');
}

/** What the box's log gets of them: its texts, in order. */
function attributed(input: string, pids: string): string[] {
  const run = spawnSync(procViewPath, ['--attribute', pids], { input, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      assert.match(line, /^\d+,\d+,\d+,-;/, 'a record of the box’s /dev/kmsg');
      return line.slice(line.indexOf(';') + 1);
    });
}

// open-cas-linux#874, as recorded: the hung task's report, then the next report (sysrq's
// task list) of another task — the host's init.
const HUNG: [number, string][] = [
  [3, 'INFO: task cas_cache1_stop:27835 blocked for more than 122 seconds.'],
  [3, '      Tainted: G S      W IO      5.10.32.x86_64 #1'],
  [3, '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.'],
  [6, 'task:cas_cache1_stop state:D stack:    0 pid:27835 ppid:     2 flags:0x00004080'],
  [4, 'Call Trace:'],
  [4, ' __schedule+0x293/0x7d0'],
  [4, ' ? cache_start_rollback+0xc0/0xc0 [cas_cache]'],
  [4, ' schedule+0x3c/0xa0'],
  [4, ' schedule_preempt_disabled+0xa/0x10'],
  [4, ' kthread+0xce/0x130'],
  [4, ' ? kthread_park+0x80/0x80'],
  [4, ' ret_from_fork+0x22/0x30'],
  [6, 'sysrq: Show State'],
  [6, 'task:systemd         state:S stack:    0 pid:    1 ppid:     0 flags:0x00000000'],
  [4, 'Call Trace:'],
  [4, ' __schedule+0x293/0x7d0'],
];
const TAKEN = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((index) => (HUNG[index] as [number, string])[1]);

describe('virtualisation: multi-line kernel reports in a box’s own log', () => {
  it('takes a hung task’s report with its continuation lines, and withholds the host’s kernel version', () => {
    assert.deepEqual(attributed(records(HUNG), '27835'), TAKEN);
  });

  it('ends the report at the first line that does not continue it: the next report, another task’s trace, are not the box’s', () => {
    const seen = attributed(records(HUNG), '27835');
    assert.ok(!seen.includes('sysrq: Show State'));
    assert.ok(!seen.some((line) => line.startsWith('task:systemd')), "the host init's task line");
    assert.equal(seen.filter((line) => line === 'Call Trace:').length, 1, 'nor its trace');
  });

  it('takes nothing of a report about a process that is not the box’s', () => {
    assert.deepEqual(attributed(records(HUNG), '27836,1'), []);
  });

  it('ends the report at a record from elsewhere in between, without the printing thread named', () => {
    // Another CPU's line lands amid the trace: the rest might be anybody's.
    const interleaved = [...HUNG.slice(0, 6), [6, 'e1000e: eth0 NIC Link is Up'] as [number, string], ...HUNG.slice(6, 12)];
    assert.deepEqual(attributed(records(interleaved), '27835'), TAKEN.slice(0, 5));
    // A record the server did not see (sequence numbers apart) ends it too.
    const gap = records(HUNG.slice(0, 6)) + records(HUNG.slice(6, 12), 6000);
    assert.deepEqual(attributed(gap, '27835'), TAKEN.slice(0, 5));
  });

  it('follows the printing thread when the kernel names it (CONFIG_PRINTK_CALLER): another thread’s lines in between neither end it nor join it', () => {
    const interleaved = [...HUNG.slice(0, 6), [6, ' a line of another thread'] as [number, string], ...HUNG.slice(6, 12)];
    const callers = (index: number) => (index === 6 ? 'T5' : 'T170');
    assert.deepEqual(attributed(records(interleaved, 5000, callers), '27835'), TAKEN);
  });

  it('takes only the kernel’s own records, and a pid only where the kernel puts it', () => {
    // What a process wrote to the host's /dev/kmsg is facility user (8 and up), never the kernel's 0.
    assert.deepEqual(attributed(records(HUNG.map(([prio, text]) => [prio | 8, text])), '27835'), []);
    // A COMM is at most 15 bytes: a name that carries a pid further on is read at its first ` blocked for`.
    assert.deepEqual(attributed(records([[3, 'INFO: task a:1 blocked for more than 1 seconds.:27835 blocked for more than 122 seconds.']]), '27835'), []);
    assert.deepEqual(attributed(records([[6, 'x[1]: segfault at 0 [27835]: segfault at 0 ip 0']]), '27835'), []);
  });

  it('withholds kernel addresses, and ends at a kernel register dump', () => {
    const report: [number, string][] = [
      [6, 'probe[27835]: segfault at 0 ip 0000559f3b2c1135 sp 00007ffd6c3e1c50 error 6 in probe[1135,559f3b2c0000+1000]'],
      [6, 'Code: 00 00 00 00 c7 04 25 00 00 00 00 2a 00 00 00 <0f> 0b'],
      [4, ' [<ffffffff8135067c>] ? __mutex_lock_common.isra.5+0xff/0x164'],
      [4, 'RIP: 0010:collect_mm_slot+0x47/0x90'],
      [4, 'RSP: 0018:ffff8808693bbdc8  EFLAGS: 00010246'],
    ];
    assert.deepEqual(attributed(records(report), '27835'), [(report[0] as [number, string])[1], (report[1] as [number, string])[1]]);
  });
});
