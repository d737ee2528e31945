import assert from 'node:assert/strict';
import { attributeDenials, denialEvent } from './denial-recorder.js';
import type { BoxSample } from './sample.js';
import { parseSeccompRecords } from './seccomp-log.js';

const names: Record<number, string> = { 165: 'mount', 250: 'keyctl', 435: 'clone3' };
const namer = (arch: number, nr: number) => (arch === 0xc000003e ? names[nr] : undefined);

/** A record as /dev/kmsg gives it (the kernel's own text, from a filter with SECCOMP_FILTER_FLAG_LOG). */
const record = (pid: number, uid: number, nr: number, comm = '"mount"', code = '0x50000') =>
  `5,${pid},78860152461,-;audit: type=1326 audit(1796686487.156:7): auid=4294967295 uid=${uid} gid=${uid} ses=4294967295 subj=unconfined pid=${pid} comm=${comm} exe="/bin/busybox" sig=0 arch=c000003e syscall=${nr} compat=0 ip=0x7fa31fbee829 code=${code}`;

function sample(boxId: string, pids: number[], uids: [number, number][], expected: string[] = []): BoxSample {
  return {
    boxId,
    box: boxId,
    tenant: null,
    time: 0,
    stats: { cpu: {}, memory: {}, pids: {}, io: [] } as unknown as BoxSample['stats'],
    events: { oomKills: 0, pidsMax: 0 } as BoxSample['events'],
    census: { processes: 0, threads: 0, openFiles: 0 },
    contributed: [],
    pids,
    seccomp: { uids, expected: new Set(expected) },
  };
}

describe('seccomp denials from the kernel log', () => {
  it('reads the caller, the syscall by name and the action; hex-encoded commands; the suppressed count', () => {
    const parsed = parseSeccompRecords(
      [
        record(4321, 100000, 165),
        record(4322, 100000, 250, '6D7920617070'), // "my app": audit hex-encodes a name with a space
        '4,900,78873132217,-;kauditd_printk_skb: 39990 callbacks suppressed',
        record(4323, 0, 999, '"x"', '0x80000000'),
        '6,901,1,-;eth0: link up',
      ],
      namer,
    );
    assert.equal(parsed.suppressed, 39990);
    assert.deepEqual(parsed.denials, [
      { pid: 4321, uid: 100000, command: 'mount', exe: '/bin/busybox', arch: 0xc000003e, nr: 165, syscall: 'mount', action: 'errno' },
      { pid: 4322, uid: 100000, command: 'my app', exe: '/bin/busybox', arch: 0xc000003e, nr: 250, syscall: 'keyctl', action: 'errno' },
      { pid: 4323, uid: 0, command: 'x', exe: '/bin/busybox', arch: 0xc000003e, nr: 999, action: 'kill_process' },
    ]);
  });

  it("attributes a denial by the box's pids, else by its own uid range; expected errnos and others' records apart", () => {
    const a = sample('a', [10, 11], [[100000, 165535]], ['clone3']);
    const b = sample('b', [20], [[200000, 265535]]);
    const shared = sample('c', [], [[300000, 365535]]);
    const twin = sample('d', [], [[300000, 365535]]);
    const { denials } = parseSeccompRecords(
      [
        record(11, 0, 165), // a's process, whatever its uid (a box without a user namespace)
        record(99, 200005, 250), // gone before the sample: b's uid range
        record(98, 100000, 435), // a's clone3: its filter's ENOSYS, not a denial
        record(97, 300001, 165), // a range two boxes share: nobody's
        record(96, 0, 165), // the host's own
      ],
      namer,
    );
    const attributed = attributeDenials(denials, [a, b, shared, twin]);
    assert.deepEqual(
      [...attributed.byBox].map(([box, list]) => [box, list.map((denial) => denial.pid)]),
      [
        ['a', [11]],
        ['b', [99]],
      ],
    );
    assert.equal(attributed.expected, 1);
    assert.equal(attributed.unattributed, 2);
  });

  it('groups a round of denials by syscall, process and command', () => {
    const { denials } = parseSeccompRecords([record(11, 0, 165), record(11, 0, 165), record(12, 0, 250, '"keyctl"')], namer);
    const event = denialEvent(sample('a', [11, 12], []), denials, 7, 3);
    assert.equal(event.kind, 'tracking.seccomp-denied');
    assert.deepEqual(event.data, {
      box: 'a',
      denials: 3,
      total: 7,
      syscalls: [
        { syscall: 'mount', nr: 165, action: 'errno', pid: 11, command: 'mount', exe: '/bin/busybox', count: 2 },
        { syscall: 'keyctl', nr: 250, action: 'errno', pid: 12, command: 'keyctl', exe: '/bin/busybox', count: 1 },
      ],
      suppressedHostWide: 3,
    });
  });
});
