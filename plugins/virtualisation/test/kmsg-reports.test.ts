/**
 * Multi-line kernel reports attributed to a box, judged by the box's views server as it
 * judges the host's /dev/kmsg. A hung task cannot be provoked safely here (it takes a task in
 * uninterruptible sleep for two minutes, or a change of the host's hung_task_timeout_secs),
 * so a recorded real one is replayed through `nsbox-proc-view --attribute PIDS`, which takes
 * those pids as the box's: the report of open-cas-linux issue #874 (kernel 5.10), as the
 * kernel printed it, record by record. The path end to end — the host's log, a real box, its
 * dmesg — is tested with reports that can be provoked: a segfault and its `Code:` line, OOM
 * kills (proc-views.test.ts). Replayed here too, for what a real box cannot show safely: an OOM
 * report recorded on this host (cgroup v1, fixtures/oom-v1.kmsg) and the same made in v2's
 * form, a parent cgroup's and a global OOM, interleaved with other records; a WARNING report
 * in the form kernel/panic.c's __warn and show_regs print it on x86-64.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procViewPath } from '@nsbox/native';
import { makeTempDir, useCleanup } from '@nsbox/testkit';

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
// Withheld: the kernel version (1), the frame in a module (6: the host's modules are its own).
const TAKEN = [0, 2, 3, 4, 5, 7, 8, 9, 10, 11].map((index) => (HUNG[index] as [number, string])[1]);

describe('virtualisation: multi-line kernel reports in a box’s own log', () => {
  it('takes a hung task’s report with its continuation lines, and withholds the host’s kernel version and modules', () => {
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

type Record = [number, string];

// An OOM kill in a box limited to 32 MiB on this host (6.18, cgroup v1), as /dev/kmsg gave it:
// dd (pid 4749) invoked the OOM killer and was killed; 4730 (sleep) and 4748 (nsbox's exec
// launcher) were the box's other tasks. The box's cgroup is renamed to the one
// `--attribute` judges as the box's.
const BOX_ID = '83aa0405-faa8-475d-9c2b-314df76f1d5c';
const OOM_V1: Record[] = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'oom-v1.kmsg'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => [Number(line.split(',')[0]), line.slice(line.indexOf(';') + 1).replaceAll(BOX_ID, 'nsbox-attribute')]);
const texts = (report: Record[]) => report.map(([, text]) => text);
const index = (report: Record[], pattern: RegExp) => report.findIndex(([, text]) => pattern.test(text));
/** The report with its `oom-kill:` line's cgroups changed. */
function killedIn(report: Record[], oomMemcg: string, taskMemcg: string): Record[] {
  return report.map(([prio, text]) => [
    prio,
    text.startsWith('oom-kill:') ? text.replace(/oom_memcg=[^,]*/, `oom_memcg=${oomMemcg}`).replace(/task_memcg=[^,]*/, `task_memcg=${taskMemcg}`) : text,
  ]);
}
const BOX_CGROUP = '/nsbox-test-0cc1dedb/nsbox-attribute';
const OTHER_CGROUP = '/nsbox-test-0cc1dedb/0b1c2d3e-0000-4000-8000-000000000000';

/** What the box must get of the v1 report when the invoking dd is its own: all of it but the
 * kernel's version on the CPU line, the kernel's registers, and a register holding what looks
 * like a kernel address. */
function givenOfV1(report: Record[]): string[] {
  const kernelRegs = index(report, /^RIP: 0010:/);
  return report.flatMap(([, text], i) => {
    if (text.startsWith('CPU: ')) return [text.slice(0, text.indexOf(' Not tainted'))];
    if (i >= kernelRegs && i < kernelRegs + 8) return [];
    if (text.startsWith('RAX: ffffffffffffffda')) return [];
    return [text];
  });
}

describe('virtualisation: OOM reports in a box’s own log, held until the oom-kill line says whose', () => {
  const cleanup = useCleanup();

  it('gives the box the whole report of an OOM in its cgroup but the kernel’s version, registers and addresses', () => {
    const seen = attributed(records(OOM_V1), '4749');
    assert.deepEqual(seen, givenOfV1(OOM_V1));
    assert.equal(seen[1], 'CPU: 1 UID: 1000000 PID: 4749 Comm: dd', 'the CPU line up to the taint');
    assert.ok(!seen.some((line) => /6\.18|RIP: 0010|ffff[0-9a-f]{12}/.test(line)), 'no kernel version, kernel RIP or address');
    assert.ok(
      OOM_V1.some(([, text]) => text.startsWith('RIP: 0010:')),
      'which the recording has',
    );
  });

  it('gives the invoking task’s header only when it is the box’s (or gone and the victim); the figures and rows of its cgroup regardless', () => {
    const header = index(OOM_V1, /^memory: usage/);
    // The invoking dd not known as the box's, still running: the rest, from the cgroup's figures on.
    assert.deepEqual(attributed(records(OOM_V1), '4730'), texts(OOM_V1.slice(header)));
    // Gone by the time the server reads the line (a pid listed negated), and the victim: its header too.
    assert.deepEqual(attributed(records(OOM_V1), '-4749'), givenOfV1(OOM_V1));
  });

  it('gives nothing of a report whose oom-kill line names another cgroup, before or after the box’s own', () => {
    const other = killedIn(OOM_V1, OTHER_CGROUP, OTHER_CGROUP);
    // The pids listed as the box's: the report still is not (another box's report about a reused pid).
    assert.deepEqual(attributed(records(other), '4749,4730,4748'), []);
    const elsewhere = other.map(([prio, text]): Record => [prio, text.replace(/\b47(30|48|49)\b/g, '57$1')]);
    const both = records(elsewhere, 5000) + records(OOM_V1, 6000) + records(elsewhere, 7000);
    assert.deepEqual(attributed(both, '4749,5749'), givenOfV1(OOM_V1), 'only its own, whole, between two of another box');
  });

  it('gives of a parent cgroup’s OOM the header, the rows of its own tasks and the kill, not the parent’s figures', () => {
    const parent = killedIn(OOM_V1, '/nsbox-test-0cc1dedb', BOX_CGROUP).map(
      ([prio, text]): Record => [prio, text.startsWith('Memory cgroup stats for ') ? 'Memory cgroup stats for /nsbox-test-0cc1dedb:' : text],
    );
    const seen = attributed(records(parent), '4749,4730');
    const memory = index(parent, /^memory: usage/);
    const tasks = index(parent, /^Tasks state/);
    assert.deepEqual(seen.slice(0, memory - 8 - 1), givenOfV1(parent).slice(0, memory - 8 - 1), 'the header, as before');
    assert.deepEqual(seen.slice(memory - 8 - 1), [
      ...texts(parent.slice(tasks, tasks + 3)), // the heading, the column names, sleep's row
      ...texts(parent.slice(tasks + 4)), // dd's row, the kill; not 4748's row (not listed)
    ]);
  });

  it('gives of a global OOM killing a task of the box its header, its rows and the kill — never the host’s memory or tasks', () => {
    const memory = index(OOM_V1, /^memory: usage/);
    const tasks = index(OOM_V1, /^Tasks state/);
    const host: Record[] = [
      [6, 'Mem-Info:'],
      [6, 'active_anon:190 inactive_anon:245861 isolated_anon:0'],
      [6, ' active_file:32 inactive_file:40 isolated_file:0'],
      [6, 'Node 0 active_anon:760kB inactive_anon:983444kB active_file:128kB inactive_file:160kB'],
      [6, 'Node 0 DMA32 free:44324kB boost:0kB min:44616kB low:55768kB high:66920kB'],
      [6, 'lowmem_reserve[]: 0 0 0 0 0'],
      [6, '1043 total pagecache pages'],
      [6, '0 pages in swap cache'],
      [6, '262014 pages RAM'],
    ];
    const global: Record[] = [
      ...OOM_V1.slice(0, memory),
      ...host,
      ...OOM_V1.slice(tasks, tasks + 2),
      [6, '[      1]     0     1     4269     3021      800     2221         0    69632        0             0 systemd'],
      ...OOM_V1.slice(tasks + 2, tasks + 5),
      [6, '[    612]     0   612    50330      900      100      800         0    90112        0          -250 systemd-journal'],
      [6, `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=${BOX_CGROUP},task=dd,pid=4749,uid=1000000`],
      [
        3,
        'Out of memory: Killed process 4749 (dd) total-vm:67804kB, anon-rss:32256kB, file-rss:1456kB, shmem-rss:0kB, UID:1000000 pgtables:100kB oom_score_adj:0',
      ],
    ];
    const seen = attributed(records(global), '4749,4730,4748');
    assert.deepEqual(seen, [...givenOfV1(OOM_V1.slice(0, memory)), ...texts(OOM_V1.slice(tasks, tasks + 5)), ...texts(global.slice(-2))]);
  });

  it('gives the figures of a v2 cgroup (swap:, memory.stat’s keys) as it gives v1’s', () => {
    // mm/memcontrol.c on the unified hierarchy: `swap:` for v1's memory+swap and kmem lines, and
    // memory.stat's keys, one record each (seq_buf_do_printk).
    const memory = index(OOM_V1, /^memory: usage/);
    const tasks = index(OOM_V1, /^Tasks state/);
    const stats = [
      'anon 33136640',
      'file 0',
      'kernel 413696',
      'kernel_stack 32768',
      'pagetables 139264',
      'sock 0',
      'shmem 0',
      'file_mapped 0',
      'inactive_anon 33030144',
      'active_anon 8192',
      'slab_reclaimable 20400',
      'slab 61360',
      'pgfault 9359',
      'pgmajfault 0',
      'thp_fault_alloc 0',
    ];
    const v2: Record[] = [
      ...OOM_V1.slice(0, memory),
      [6, 'memory: usage 32768kB, limit 32768kB, failcnt 0'],
      [6, 'swap: usage 0kB, limit 0kB, failcnt 0'],
      [6, `Memory cgroup stats for ${BOX_CGROUP}:`],
      ...stats.map((text): Record => [6, text]),
      ...OOM_V1.slice(tasks),
    ];
    assert.deepEqual(attributed(records(v2), '4749'), givenOfV1(v2));
    assert.deepEqual(attributed(records(killedIn(v2, OTHER_CGROUP, OTHER_CGROUP)), '4749'), []);
  });

  it('drops what it held when a line from elsewhere comes amid the report, or a record is missed; the kill itself is still given', () => {
    const memory = index(OOM_V1, /^memory: usage/);
    const kill = texts(OOM_V1.slice(-2));
    const interleaved: Record[] = [...OOM_V1.slice(0, memory), [6, 'e1000e: eth0 NIC Link is Up'], ...OOM_V1.slice(memory)];
    assert.deepEqual(attributed(records(interleaved), '4749'), kill);
    // A stat-like line from elsewhere amid the header ends it too: it is not a header's.
    const statLike: Record[] = [...OOM_V1.slice(0, 5), [6, 'rss 1'], ...OOM_V1.slice(5)];
    assert.deepEqual(attributed(records(statLike), '4749'), kill);
    const gap = records(OOM_V1.slice(0, memory)) + records(OOM_V1.slice(memory), 9000);
    assert.deepEqual(attributed(gap, '4749'), kill);
    // A host process's record (facility user) amid: from elsewhere as well.
    const user: Record[] = [...OOM_V1.slice(0, memory), [14, 'systemd[1]: Started foo.service'], ...OOM_V1.slice(memory)];
    assert.deepEqual(attributed(records(user), '4749'), kill);
  });

  it('follows the printing thread when the kernel names it: another thread’s lines amid neither end the report nor join it', () => {
    const memory = index(OOM_V1, /^memory: usage/);
    const interleaved: Record[] = [...OOM_V1.slice(0, memory), [6, '[ 9999] 0 9999 1 1 1 1 1 1 0 0 other'], ...OOM_V1.slice(memory)];
    const callers = (i: number) => (i === memory ? 'T5' : 'T4749');
    assert.deepEqual(attributed(records(interleaved, 5000, callers), '4749'), givenOfV1(OOM_V1));
  });

  it('holds the report again after the server is killed mid-report: the next one reads the host’s log from its start', () => {
    // The judging code itself, built with a driver that keeps the state the servers share in a
    // file: a run is a server, the next run on that file the server the shim starts after it.
    const native = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'src');
    const dir = makeTempDir(cleanup, 'respawn');
    const driver = join(dir, 'kmsg-respawn');
    const sources = ['proc-view-kmsg-host.c', 'proc-view-kmsg-oom.c', 'proc-view-kmsg.c', 'common.c'].map((file) => join(native, file));
    execFileSync(
      'gcc',
      ['-O1', '-D_GNU_SOURCE', '-I', native, '-o', driver, join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kmsg-respawn.c'), ...sources],
      { stdio: 'pipe' },
    );
    const run = (state: string, input: string) => {
      const result = spawnSync(driver, [join(dir, state), '4749'], { input, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(line.indexOf(';') + 1));
    };
    const all = records(OOM_V1);
    const cut = index(OOM_V1, /^memory: usage/) + 3;
    for (const at of [1, cut, OOM_V1.length - 3]) {
      const first = run(`state-${at}`, records(OOM_V1.slice(0, at)));
      assert.deepEqual(first, [], `nothing given before the oom-kill line (killed after ${at} records)`);
      assert.deepEqual(run(`state-${at}`, all), givenOfV1(OOM_V1), `the whole report from the next server (killed after ${at} records)`);
    }
  });

  it('ends a report that has no kill (no killable task) or goes on too long, giving nothing of it; what follows is judged afresh', () => {
    const tasks = index(OOM_V1, /^Tasks state/);
    const segfault: Record = [6, 'probe[4730]: segfault at 0 ip 0000559f3b2c1135 sp 00007ffd6c3e1c50 error 6 in probe[1135,559f3b2c0000+1000]'];
    const noKill: Record[] = [...OOM_V1.slice(0, tasks + 5), [4, 'Out of memory and no killable processes...'], segfault];
    assert.deepEqual(attributed(records(noKill), '4749,4730'), [segfault[1]]);
    // Records 11 s apart: the second is not the report's.
    const late = `${records(OOM_V1.slice(0, 3))}4,5003,${9_000_002 + 11_000_000},-;${(OOM_V1[3] as Record)[1]}\n${records(OOM_V1.slice(4), 5004)}`;
    assert.deepEqual(attributed(late, '4749'), texts(OOM_V1.slice(-2)));
  });
});

// A WARNING in the form the kernel prints it on x86-64 (kernel/panic.c __warn: the WARNING line,
// print_modules, show_regs with its CPU: line, the registers and the trace, the end marker;
// __warn_printk's cut-here line and message before it).
const WARNING: Record[] = [
  [4, '------------[ cut here ]------------'],
  [4, 'refcount_t: underflow; use-after-free.'],
  [4, 'WARNING: CPU: 1 PID: 4242 at fs/iomap/buffered-io.c:1034 iomap_write_iter+0x2a1/0x3a0'],
  [4, 'Modules linked in: nft_chain_nat xt_MASQUERADE nf_nat overlay ext4 mbcache jbd2 virtio_net'],
  [4, 'CPU: 1 UID: 1000000 PID: 4242 Comm: probe Tainted: G        W           6.18.44-fc-v1272 #1 PREEMPT(none)'],
  [4, 'Tainted: [W]=WARN'],
  [4, 'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.3-debian-1.16.3-2 04/01/2014'],
  [4, 'RIP: 0010:iomap_write_iter+0x2a1/0x3a0'],
  [4, 'Code: 48 8b 45 c8 48 85 c0 0f 84 5b ff ff ff 48 8b 00 a8 01 0f 85 50 ff ff ff <0f> 0b e9 49 ff ff ff 48 8b 45'],
  [4, 'RSP: 0018:ffffc9000bb83b80 EFLAGS: 00010246'],
  [4, 'RAX: 0000000000000000 RBX: 0000000000001000 RCX: 0000000000000000'],
  [4, 'RDX: 0000000000000001 RSI: 0000000000000000 RDI: 0000000000000000'],
  [4, 'RBP: ffffc9000bb83bc0 R08: 0000000000000000 R09: 0000000000000000'],
  [4, 'R10: 0000000000000000 R11: 0000000000000000 R12: 0000000000001000'],
  [4, 'R13: 0000000000000000 R14: 0000000000000000 R15: 0000000000000000'],
  [4, 'FS:  00007f3a1c2d5740(0000) GS:ffff8882b5d00000(0000) knlGS:0000000000000000'],
  [4, 'CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033'],
  [4, 'CR2: 00007f3a1c000000 CR3: 000000010a3f2000 CR4: 0000000000750ef0'],
  [4, 'PKRU: 55555554'],
  [4, 'Call Trace:'],
  [4, ' <TASK>'],
  [4, ' ? __warn+0x89/0x130'],
  [4, ' iomap_file_buffered_write+0x9c/0x100'],
  [4, ' ext4_buffered_write_iter+0x6d/0x120 [ext4]'],
  [4, ' vfs_write+0x24f/0x430'],
  [4, ' ksys_write+0x6f/0xf0'],
  [4, ' do_syscall_64+0x71/0x290'],
  [4, ' entry_SYSCALL_64_after_hwframe+0x76/0x7e'],
  [4, 'RIP: 0033:0x47b6fd'],
  [4, 'Code: 07 31 c0 e9 b5 fe ff ff 50 48 8d 3d e5 26 12 00 e8 38 7d 00 00 0f 1f 84 00 00 00 00 00 80 3d 88 86 16 00 00 74 17 31 c0 0f 05 <48> 3d'],
  [4, 'RSP: 002b:00007ffea8335fb8 EFLAGS: 00000246 ORIG_RAX: 0000000000000001'],
  [4, 'RAX: ffffffffffffffda RBX: 0000000000000000 RCX: 000000000047b6fd'],
  [4, 'RDX: 0000000000001000 RSI: 00007fd83d600000 RDI: 0000000000000003'],
  [4, 'RBP: 00007fd83d600000 R08: 0000000000000000 R09: 0000000000558b93'],
  [4, 'R10: 00000000000001b6 R11: 0000000000000246 R12: 0000000000001000'],
  [4, 'R13: 000000001eb3b3a0 R14: 0000000000000000 R15: 0000000000000000'],
  [4, ' </TASK>'],
  [4, '---[ end trace 0000000000000000 ]---'],
  [6, 'sysrq: Show State'],
  [6, ' vfs_read+0xbb/0x3d0'],
];
// What the box gets: the WARNING line, its CPU line up to the taint, the trace but the module's
// frame, the user registers but one that looks like a kernel address, the end marker.
const WARNING_GIVEN = [
  WARNING[2]?.[1],
  'CPU: 1 UID: 1000000 PID: 4242 Comm: probe',
  ...[19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 32, 33, 34, 35, 36, 37].map((i) => WARNING[i]?.[1]),
];

describe('virtualisation: WARNING reports in a box’s own log', () => {
  it('gives the box a WARNING of its process: the trace and its user registers, not the modules, the kernel’s version, registers or addresses', () => {
    assert.deepEqual(attributed(records(WARNING), '4242'), WARNING_GIVEN);
    // Without its message (none, WARN_ON's), the cut-here line right before it.
    assert.deepEqual(attributed(records([WARNING[0] as Record, ...WARNING.slice(2)]), '4242'), [WARNING[0]?.[1], ...WARNING_GIVEN]);
  });

  it('gives the message before it when the kernel names the printing thread, and no other thread’s line', () => {
    const interleaved = [...WARNING.slice(0, 2), [6, 'e1000e: eth0 NIC Link is Up'] as Record, ...WARNING.slice(2)];
    const callers = (i: number) => (i === 2 ? 'T5' : 'T4242');
    assert.deepEqual(attributed(records(interleaved, 5000, callers), '4242'), [WARNING[0]?.[1], WARNING[1]?.[1], ...WARNING_GIVEN]);
  });

  it('gives nothing of a WARNING of another task, and ends at a line that is not the report’s', () => {
    assert.deepEqual(attributed(records(WARNING), '4243,1'), []);
    const interleaved = [...WARNING.slice(0, 21), [6, 'e1000e: eth0 NIC Link is Up'] as Record, ...WARNING.slice(21)];
    assert.deepEqual(attributed(records(interleaved), '4242'), WARNING_GIVEN.slice(0, 4));
    // The CPU: line of another task amid the report is not its own.
    const otherCpu = WARNING.map(([prio, text]): Record => [prio, text.replace('PID: 4242 Comm', 'PID: 1 Comm')]);
    assert.deepEqual(attributed(records(otherCpu), '4242'), WARNING_GIVEN.slice(0, 1));
    // A line from elsewhere before the WARNING line, without the thread named: it would look
    // like a message; nothing before the WARNING line is given.
    const beforeIt = [WARNING[0] as Record, [6, 'e1000e: eth0 NIC Link is Up'] as Record, ...WARNING.slice(2)];
    assert.deepEqual(attributed(records(beforeIt), '4242'), WARNING_GIVEN);
  });
});
