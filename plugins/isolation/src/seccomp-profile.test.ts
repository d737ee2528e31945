import assert from 'node:assert/strict';
import { defaultCapabilities } from './capabilities.js';
import { defaultSeccompProfile, maskedComplement } from './seccomp-profile.js';
import { knownSyscalls } from './syscall-names.js';

type Profile = ReturnType<typeof defaultSeccompProfile>;
const allowed = (profile: Profile) => new Set(profile.syscalls?.[0]?.names);

/** What the kernel would answer, from the rules as data: allowed when some allow rule matches every one of its arguments. */
function permits(profile: Profile, name: string, args: readonly bigint[]): boolean {
  return (profile.syscalls ?? []).some(
    (rule) =>
      rule.action === 'SCMP_ACT_ALLOW' &&
      rule.names.includes(name) &&
      (rule.args ?? []).every((arg) => {
        const value = args[arg.index] ?? 0n;
        if (arg.op === 'SCMP_CMP_MASKED_EQ') return (value & BigInt(arg.value)) === BigInt(arg.valueTwo ?? 0);
        if (arg.op === 'SCMP_CMP_NE') return value !== BigInt(arg.value);
        if (arg.op === 'SCMP_CMP_EQ') return value === BigInt(arg.value);
        throw new Error(`op ${arg.op} not modelled`);
      }),
  );
}

describe('the masked complement of a set of values', () => {
  it('matches exactly the values outside the set, on the bits asked for', () => {
    const tests = maskedComplement([0x12, 0x1c, 0x80], 0xff);
    for (let value = 0; value < 256; value++) {
      const matched = tests.some(({ mask, value: wanted }) => (value & mask) === wanted);
      assert.equal(matched, ![0x12, 0x1c, 0x80].includes(value), `value ${value}`);
    }
    assert.deepEqual(maskedComplement([]), [{ mask: 0, value: 0 }], 'nothing excluded: one test that matches everything');
  });
});

describe('the default seccomp profile', () => {
  const profile = defaultSeccompProfile({ capabilities: defaultCapabilities, allow: [], deny: [] });

  it('is an allowlist: anything else fails with EPERM', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(profile.defaultErrnoRet, 1);
    assert.equal(profile.syscalls?.[0]?.action, 'SCMP_ACT_ALLOW');
    for (const name of allowed(profile)) assert.ok(knownSyscalls.has(name), `${name} is a real syscall name`);
  });

  it("refuses what Docker's refuses to a box without the capability, and io_uring besides", () => {
    const names = allowed(profile);
    for (const name of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'bpf',
      'perf_event_open',
      'keyctl',
      'add_key',
      'request_key',
      'userfaultfd',
      'open_by_handle_at',
      'init_module',
      'finit_module',
      'reboot',
      'kexec_load',
      'iopl',
      'clone3',
    ]) {
      assert.equal(names.has(name), false, name);
    }
    for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register']) assert.equal(names.has(name), false, `${name} (stricter than Docker)`);
    for (const name of ['read', 'write', 'execve', 'ptrace', 'chroot', 'fchmodat2']) assert.ok(names.has(name), name);
  });

  it('allows clone only without namespace flags, clone3 with ENOSYS so libc falls back', () => {
    const clone = profile.syscalls?.find((rule) => rule.names.includes('clone'));
    assert.deepEqual(clone?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    const clone3 = profile.syscalls?.find((rule) => rule.names.includes('clone3'));
    assert.deepEqual([clone3?.action, clone3?.errnoRet], ['SCMP_ACT_ERRNO', 38]);
  });

  it('follows the capabilities and the config', () => {
    const admin = defaultSeccompProfile({
      capabilities: [...defaultCapabilities, 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT'],
      allow: ['io_uring_setup'],
      deny: ['ptrace', 'socket'],
    });
    const names = allowed(admin);
    for (const name of ['mount', 'unshare', 'clone', 'clone3', 'reboot', 'io_uring_setup']) assert.ok(names.has(name), name);
    assert.equal(names.has('ptrace'), false);
    assert.equal(
      admin.syscalls?.some((rule) => rule.names.includes('socket')),
      false,
      'a denied syscall has no conditional rule left',
    );
  });

  const TIOCSTI = 0x5412n;
  const TIOCLINUX = 0x541cn;

  it('refuses TIOCSTI and TIOCLINUX whatever the upper half of the register holds, and allows other ioctls', () => {
    assert.equal(allowed(profile).has('ioctl'), false, 'ioctl is not allowed outright');
    for (const request of [TIOCSTI, TIOCLINUX, (1n << 32n) | TIOCSTI, 0xffffffff00000000n | TIOCLINUX]) {
      assert.equal(permits(profile, 'ioctl', [0n, request]), false, `request 0x${request.toString(16)}`);
    }
    for (const request of [0x5401n /* TCGETS */, 0x5413n /* TIOCGWINSZ */, 0x541bn /* FIONREAD */, 0x5411n, 0x5452n, 0xc0105512n]) {
      assert.equal(permits(profile, 'ioctl', [0n, request]), true, `request 0x${request.toString(16)}`);
    }
    assert.ok(
      allowed(defaultSeccompProfile({ capabilities: defaultCapabilities, allow: ['ioctl'], deny: [] })).has('ioctl'),
      'the config may allow it outright',
    );
  });

  it('refuses real-time policies unless the admin allows them', () => {
    const [OTHER, FIFO, RR, BATCH, IDLE, RESET_ON_FORK] = [0n, 1n, 2n, 3n, 5n, 0x40000000n];
    for (const policy of [FIFO, RR, FIFO | RESET_ON_FORK, RR | RESET_ON_FORK, (1n << 32n) | FIFO]) {
      assert.equal(permits(profile, 'sched_setscheduler', [0n, policy, 0n]), false, `policy ${policy}`);
    }
    for (const policy of [OTHER, BATCH, IDLE, BATCH | RESET_ON_FORK])
      assert.equal(permits(profile, 'sched_setscheduler', [0n, policy, 0n]), true, `policy ${policy}`);
    assert.equal(permits(profile, 'sched_setattr', [0n, 0n, 0n]), false, 'its policy is in memory: refused');
    assert.equal(permits(profile, 'sched_setparam', [0n, 0n]), true, 'keeps the current policy');
    const realtime = defaultSeccompProfile({ capabilities: defaultCapabilities, allow: [], deny: [], realtime: true });
    assert.equal(permits(realtime, 'sched_setscheduler', [0n, FIFO, 0n]), true);
    assert.equal(permits(realtime, 'sched_setattr', [0n, 0n, 0n]), true);
  });

  it('gives a box confined to its addresses no raw, ping or packet socket, and TCP, UDP and unix sockets as before', () => {
    const confined = defaultSeccompProfile({ capabilities: defaultCapabilities, allow: [], deny: [], confined: true });
    const [INET, INET6, UNIX, PACKET, NETLINK, VSOCK] = [2n, 10n, 1n, 17n, 16n, 40n];
    const [STREAM, DGRAM, RAW, SEQPACKET, NONBLOCK_CLOEXEC] = [1n, 2n, 3n, 5n, 0x80800n];
    const refused: bigint[][] = [
      [INET, RAW, 1n],
      [INET6, RAW, 58n],
      [INET, RAW | NONBLOCK_CLOEXEC, 255n],
      [INET, DGRAM, 1n],
      [INET6, DGRAM | NONBLOCK_CLOEXEC, 58n],
      [PACKET, RAW, 0x300n],
      [VSOCK, STREAM, 0n],
    ];
    for (const args of refused) {
      assert.equal(permits(confined, 'socket', args), false, `socket(${args.join(', ')}) when confined`);
      if (args[0] !== VSOCK) assert.equal(permits(profile, 'socket', args), true, `socket(${args.join(', ')}) unconfined`);
    }
    const fine: bigint[][] = [
      [INET, STREAM, 0n],
      [INET6, STREAM | NONBLOCK_CLOEXEC, 6n],
      [INET, DGRAM, 0n],
      [INET6, DGRAM, 17n],
      [INET, SEQPACKET, 132n],
      [UNIX, STREAM, 0n],
      [UNIX, DGRAM, 0n],
      [NETLINK, RAW, 0n],
    ];
    for (const args of fine) assert.equal(permits(confined, 'socket', args), true, `socket(${args.join(', ')})`);
    assert.equal(allowed(confined).has('socketcall'), false, "i386's socketcall would hide the arguments");
  });
});
