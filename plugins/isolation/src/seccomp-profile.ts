/**
 * The default seccomp profile, as data: an allowlist (anything not listed fails with
 * EPERM) modelled on Docker's default profile and stricter than it: io_uring is not
 * allowed (a large kernel attack surface, and a way around seccomp, as Docker ≥ 25 and
 * ChromeOS decided). Syscalls that only make sense with a capability are allowed only
 * when the box has it, as in Docker; the kernel checks the capability again anyway.
 * Stricter again: no TIOCSTI/TIOCLINUX ioctls, no real-time scheduling policy unless the
 * admin allows it. (A box confined to its addresses on the host's stack loses raw, ping and
 * packet sockets too: the network plugin's `shared` mode tightens this profile's socket rules.)
 */

import type { OciSeccompRule, OciSpec } from '@nsbox/core';
import { allowWhere, INT_BITS, masked, maskedComplement } from '@nsbox/runtime-api';

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/** Allowed for every box. */
const everyBox = words(`
  accept accept4 access adjtimex alarm arch_prctl bind brk cachestat capget capset chdir chmod
  chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
  clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
  copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
  epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
  exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
  fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
  flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
  ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
  get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid
  geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
  getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage
  getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
  inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 io_setup io_submit ioprio_get ioprio_set ipc kill
  landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
  linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
  map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
  mlock2 mlockall mmap mmap2 modify_ldt mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
  mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect
  open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
  pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease
  process_vm_readv process_vm_writev pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2
  read readahead readlink readlinkat readv recvfrom recvmmsg recvmmsg_time64 recvmsg
  remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
  sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setparam sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64
  sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address
  setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer
  setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
  setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget
  shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice
  stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee
  tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
  timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
  utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);

/** Allowed only to a box that has the capability. */
const withCapability: Record<string, string[]> = {
  CAP_SYS_ADMIN: words(`
    bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick listmount lookup_dcookie mount
    mount_setattr move_mount open_tree open_tree_attr perf_event_open quotactl quotactl_fd
    setdomainname sethostname setns statmount syslog umount umount2 unshare`),
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

const AF_VSOCK = 40;
/** CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** ioctl requests that act on a terminal the caller does not own: typing into it, and the console's own. */
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const SCHED_FIFO = 1;
const SCHED_RR = 2;
/** OR-ed into sched_setscheduler's policy; says nothing about the class. */
const SCHED_RESET_ON_FORK = 0x40000000;
const ENOSYS = 38;
const EPERM = 1;

/** socket(2): every family but vsock (the host↔VM channel). */
const socketRule = (): OciSeccompRule => allowWhere('socket', { index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' });

/** Unfiltered for a box the admin lets run real-time. */
const REALTIME_SYSCALLS = ['sched_setscheduler', 'sched_setattr'];

/** What a box may change in its scheduling unless the admin lets it run real-time. */
function schedulingRules(): OciSeccompRule[] {
  // sched_setscheduler(pid, policy, param): any policy but SCHED_FIFO and SCHED_RR. sched_setattr
  // keeps its policy in a struct seccomp cannot read: EPERM (chrt and libc use sched_setscheduler
  // for every policy but SCHED_DEADLINE, itself real-time). sched_setparam keeps the current
  // policy, and a normal task's only priority is 0: it stays allowed.
  return maskedComplement([SCHED_FIFO, SCHED_RR], INT_BITS & ~SCHED_RESET_ON_FORK).map((policy) => allowWhere('sched_setscheduler', masked(1, policy)));
}

/** Allowed with conditions on their arguments (unless the box has the capability, or the config allows them outright). */
function conditionalRules(caps: ReadonlySet<string>): OciSeccompRule[] {
  const rules: OciSeccompRule[] = [
    socketRule(),
    // personality: the usual personas only (0, PER_LINUX32, UNAME26 combinations, query).
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map(
      (value): OciSeccompRule => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] }),
    ),
    // ioctl: anything but typing into a terminal (TIOCSTI: a terminal the box was handed,
    // its operator's) and the Linux console's requests (TIOCLINUX).
    ...maskedComplement([TIOCSTI, TIOCLINUX]).map((request) => allowWhere('ioctl', masked(1, request))),
    ...schedulingRules(),
  ];
  if (!caps.has('CAP_SYS_ADMIN')) {
    // fork and threads, but no new namespaces; clone3 hides its flags in memory seccomp
    // cannot read: ENOSYS makes libc fall back to clone.
    rules.push(
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    );
  }
  return rules;
}

/** x86_64 boxes run i386 and x32 binaries too: the filter covers all three. */
function architectures(): string[] {
  switch (process.arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    default:
      return [];
  }
}

export interface SeccompChoices {
  /** The admin lets the box use real-time scheduling (SCHED_FIFO, SCHED_RR, SCHED_DEADLINE). */
  realtime?: boolean;
  /** The box's capability set (bounding). */
  capabilities: readonly string[];
  allow: readonly string[];
  deny: readonly string[];
}

/** The box's filter: the profile for its capabilities, plus the config's allow and deny lists. */
export function defaultSeccompProfile(choices: SeccompChoices): NonNullable<OciSpec['linux']['seccomp']> {
  const caps = new Set(choices.capabilities);
  const deny = new Set(choices.deny);
  const allow = new Set([...everyBox, ...Object.entries(withCapability).flatMap(([cap, names]) => (caps.has(cap) ? names : [])), ...choices.allow]);
  if (choices.realtime) for (const name of REALTIME_SYSCALLS) allow.add(name);
  for (const name of deny) allow.delete(name);
  const conditional = conditionalRules(caps).filter((rule) => rule.names.every((name) => !deny.has(name) && !allow.has(name)));
  const syscalls: OciSeccompRule[] = [{ names: [...allow].sort(), action: 'SCMP_ACT_ALLOW' }, ...conditional];
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: architectures(), syscalls };
}
