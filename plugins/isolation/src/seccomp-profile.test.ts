import assert from 'node:assert/strict';
import { seccompPermits as permits } from '@nsbox/runtime-api';
import { defaultCapabilities } from './capabilities.js';
import { defaultSeccompProfile } from './seccomp-profile.js';
import { knownSyscalls } from './syscall-names.js';

type Profile = ReturnType<typeof defaultSeccompProfile>;
const allowed = (profile: Profile) => new Set(profile.syscalls?.[0]?.names);

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
});
