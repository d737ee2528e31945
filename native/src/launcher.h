/* Internal interface between the launcher's files. Each file has one concern:
 *   launcher.c          main: re-exec, read the program, report the result on fd 4
 *   launcher-create.c   create mode: clone3, id maps, child ops
 *   launcher-join.c     join mode: setns + fork, supervision
 *   launcher-sync.c     the parent/child handshake
 *   launcher-exe.c      re-exec from a sealed memfd copy of the binary (CVE-2019-5736)
 *   launcher-host.c     host ops: cgroups, namespaces, time namespace offsets, join.*
 *   launcher-mount.c    rootfs, mount, mkdir, symlink, dev.bind, mknod, pivot_root, mask, readonly
 *   launcher-caps.c     capability names and the user/groups/caps sequence
 *   launcher-seccomp.c  seccomp.* ops with libseccomp
 *   launcher-idmap.c    tree ops: detached (idmapped) mounts the parent hands the child
 *   mount-flags.c       mount option names as flags and attributes (mount, tree, rootfs)
 *   launcher-bpf.c      bpf.* host ops: cgroup BPF device and IP confinement programs
 *   launcher-final.c    the child's last steps: identity, cwd, fds, hold, seccomp, exec
 *   launcher-process.c  sched, ioprio, mempolicy, personality, umask, HOME
 *   launcher-hold.c     `hold`: the built box waits for `start` (create/start split)
 *   launcher-hooks.c    OCI hooks at their moments, with the state on stdin
 *   launcher-tty.c      join mode: pty, raw mode, relay and signal forwarding */
#ifndef NSBOX_LAUNCHER_H
#define NSBOX_LAUNCHER_H

#include "common.h"
#include "program.h"

#include <linux/filter.h>
#include <seccomp.h>

/* fds of the protocol (PROTOCOL.md §1). */
#define NSBOX_PROGRAM_FD 3
#define NSBOX_RESULT_FD 4

/* launcher-create.c, launcher-join.c: run the program; errors as `STEP ERRNO MESSAGE`
 * (step_buf holds a step name that came from the child). */
int nsbox_run_create (const struct nsbox_program *prog, pid_t *pid, struct nsbox_error *err,
                      char *step_buf, size_t step_size);
int nsbox_run_join (const struct nsbox_program *prog, int *exit_code,
                    struct nsbox_error *err, char *step_buf, size_t step_size);

/* launcher-sync.c: the parent/child handshake */
/* SIGKILL (through the pidfd when there is one) and waitpid; returns -1 for callers. */
int nsbox_kill_and_reap (pid_t pid, int pidfd);
/* Reads the child's end of the handshake to EOF: 0 when it said nothing (exec worked). */
int nsbox_read_child_report (int fd, struct nsbox_error *err, char *step_buf,
                             size_t step_size);
/* Parent, create mode: answers the child's requests (the prestart and createRuntime hooks
 * before its pivot_root) until it exec'd (EOF, *held false), holds (*held true) or reports
 * an error (-1). */
int nsbox_parent_follow_child (const struct nsbox_program *prog, int fd, pid_t pid, bool *held,
                               struct nsbox_error *err, char *step_buf, size_t step_size);
/* Child: asks the parent to run its hooks and waits until it did. */
int nsbox_child_request_hooks (int sync_fd, struct nsbox_error *err);
/* Child: report an error to the parent (`STEP ERRNO MESSAGE`). */
void nsbox_child_report (int sync_fd, const struct nsbox_error *err);
/* Child: SIGKILL when the launcher dies; exits at once if it already has. */
void nsbox_child_arm_death_signal (int sync_fd);
/* Child: setresgid/setresuid 0 inside the user namespace it is in. */
int nsbox_become_ns_root (struct nsbox_error *err);

/* launcher-exe.c */
/* Re-executes the launcher from a sealed memfd unless it already runs from one; returns
 * only on failure (or when already sealed). */
int nsbox_ensure_sealed_self (char **argv, struct nsbox_error *err);

/* launcher-host.c */
struct nsbox_host
{
  unsigned long clone_flags; /* CLONE_NEW* from `namespaces` */
  int cgroup_fd;             /* `cgroup.into`, or -1 */
  int pidfd;                 /* `join.pid`, or -1 */
  bool timens_offsets;       /* a time ns with offsets is pending for children */
  bool timens_in_child;      /* the child makes the time ns (a box with a user ns) */
  int hold_fd;               /* `hold`: the socket `start` connects to, or -1 */
  int listener_fd;           /* `seccomp.listener`: connected to the agent, or -1 */
};
#define NSBOX_HOST_INIT { .cgroup_fd = -1, .pidfd = -1, .hold_fd = -1, .listener_fd = -1 }
/* `preserve_fds N`: the launcher's fds 5 … 4+N become the box's 3 … 2+N. */
#define NSBOX_PRESERVED_BASE 5
unsigned nsbox_preserved_fds (const struct nsbox_program *prog);
int nsbox_parse_namespaces (const struct nsbox_op *op, unsigned long *flags,
                            struct nsbox_error *err);
/* Runs the host ops in program order. */
int nsbox_host_ops (const struct nsbox_program *prog, struct nsbox_host *host,
                    struct nsbox_error *err);
void nsbox_host_release (struct nsbox_host *host);
/* launcher-timens.c: a `timens.offset` op as a timens_offsets line (its length), and the
 * time namespace made by the child of a box with a user namespace. */
int nsbox_timens_offset_line (const struct nsbox_op *op, char *line, size_t size,
                              struct nsbox_error *err);
int nsbox_timens_child (const struct nsbox_program *prog, struct nsbox_error *err);
/* Join mode: setns(pidfd, flags) for everything in `namespaces` at once. */
int nsbox_host_join (const struct nsbox_program *prog, struct nsbox_host *host,
                     struct nsbox_error *err);
/* Parent-phase ops on a child: rlimit (prlimit) and oom_score_adj. */
int nsbox_parent_limits (const struct nsbox_program *prog, pid_t pid,
                         struct nsbox_error *err);

/* launcher-idmap.c */
struct nsbox_trees
{
  size_t n;
  int *fds;           /* -1 once taken */
  const char **paths; /* host path of each tree (strings of the program) */
};
int nsbox_trees_init (struct nsbox_trees *trees);
void nsbox_trees_release (struct nsbox_trees *trees);
/* Parent: clones and (id)maps every `tree` op's path, after the id maps are written. */
int nsbox_trees_prepare (const struct nsbox_program *prog, pid_t pid,
                         struct nsbox_trees *trees, struct nsbox_error *err);
/* Parent: sends every tree (SCM_RIGHTS), then the go byte and the child's pid. */
int nsbox_trees_send_go (int sock, const struct nsbox_trees *trees, pid_t pid,
                         struct nsbox_error *err);
/* Child: receives the trees until the go byte and its own pid in the launcher's pid
 * namespace; -1 when the parent is gone. */
int nsbox_trees_receive (int sock, const struct nsbox_program *prog,
                         struct nsbox_trees *trees, pid_t *own_pid);
/* The fd of the first unused tree of this host path (the caller owns it), or -1. */
int nsbox_trees_take (struct nsbox_trees *trees, const char *path);
bool nsbox_trees_has (const struct nsbox_trees *trees, const char *path);

/* launcher-bpf.c: runs a bpf.* host op; returns 1 when op is not one of them. */
int nsbox_bpf_op (const struct nsbox_op *op, struct nsbox_error *err);

/* launcher-mount.c */
struct nsbox_mounts
{
  int root_fd;     /* the rootfs before pivot_root, the new `/` after; -1 before `rootfs` */
  int null_fd;     /* the host's /dev/null (O_PATH), the source of `mask` on files */
  bool pivoted;
  unsigned long propagation; /* MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE */
  struct nsbox_trees *trees; /* trees from the parent (`tree` ops), or NULL */
  int rootfs_target;         /* `rootfs PATH idmap`: PATH opened before the uid switch */
};
int nsbox_mounts_init (const struct nsbox_program *prog, struct nsbox_mounts *m,
                       struct nsbox_error *err);
/* Runs one mount-related op; returns 1 when op is not one of them. */
int nsbox_mount_op (struct nsbox_mounts *m, const struct nsbox_op *op,
                    struct nsbox_error *err);
/* launcher-copyup.c: `tmpcopyup`, the tree under src_dir copied into dst_dir. */
int nsbox_copy_up (int src_dir, int dst_dir, const char *what, struct nsbox_error *err);

/* After the child ops: the box root's final propagation (shared, unbindable). */
int nsbox_mounts_finish (struct nsbox_mounts *m, struct nsbox_error *err);
void nsbox_mounts_release (struct nsbox_mounts *m);

/* launcher-caps.c */
struct nsbox_caps
{
  bool given; /* at least one `caps` op: the five sets are exactly what the ops say */
  uint64_t sets[5];
};
enum
{
  NSBOX_CAP_BOUNDING,
  NSBOX_CAP_EFFECTIVE,
  NSBOX_CAP_PERMITTED,
  NSBOX_CAP_INHERITABLE,
  NSBOX_CAP_AMBIENT,
};
int nsbox_caps_parse (const struct nsbox_program *prog, struct nsbox_caps *caps,
                      struct nsbox_error *err);
/* bounding drop, keep caps, groups, setresgid/setresuid, capset, ambient raise. `keep`
 * stays in the effective and permitted sets beyond what the ops say: CAP_SYS_ADMIN while a
 * seccomp filter without no_new_privs is still to be loaded (execve drops it: the sets after
 * exec come from the bounding, inheritable and ambient sets). */
int nsbox_apply_identity (const struct nsbox_program *prog, const struct nsbox_caps *caps,
                          uint64_t keep, struct nsbox_error *err);

/* launcher-seccomp.c */
/* Builds the filter from the seccomp.* ops; *ctx stays NULL without `seccomp.load`. */
int nsbox_seccomp_build (const struct nsbox_program *prog, scmp_filter_ctx *ctx,
                         struct nsbox_error *err);
int nsbox_seccomp_load (scmp_filter_ctx ctx, struct nsbox_error *err);
/* A filter prepared by the launcher before it clones (`seccomp.cache`): built and exported
 * now (its BPF and the kernel flags to load it with), or given as BPF from the cache (insns
 * malloc'd, owned from then on). Once prepared, nsbox_seccomp_build leaves *ctx NULL and
 * nsbox_seccomp_load (NULL) loads the prepared BPF with seccomp(2). */
int nsbox_seccomp_compile (const struct nsbox_program *prog, struct sock_fprog *bpf,
                           unsigned int *flags, struct nsbox_error *err);
void nsbox_seccomp_use_bpf (struct sock_filter *insns, unsigned short len, unsigned int flags);
/* NSBOX_SECCOMP_LOG_DENIALS's unlogged filter of a prepared filter: its BPF and flags as
 * compiled (len 0: none), or given from the cache (insns malloc'd, owned from then on). */
void nsbox_seccomp_quiet_bpf (struct sock_fprog *bpf, unsigned int *flags);
void nsbox_seccomp_use_quiet_bpf (struct sock_filter *insns, unsigned short len, unsigned int flags);
bool nsbox_seccomp_prepared (void);
/* launcher-seccomp-cache.c: `seccomp.cache DIR` — the compiled filter kept in DIR, keyed by
 * the program's seccomp ops; read or built (and kept) by the launcher before it clones. */
int nsbox_seccomp_prepare (const struct nsbox_program *prog, const char *dir,
                           struct nsbox_error *err);
/* `seccomp.listener`: host op, then the payload (built before the load) and its sending. */
int nsbox_seccomp_listener_connect (const char *path, int *fd, struct nsbox_error *err);
int nsbox_seccomp_listener_payload (const struct nsbox_program *prog, pid_t pid,
                                    struct nsbox_buf *out, struct nsbox_error *err);
int nsbox_seccomp_listener_send (scmp_filter_ctx ctx, int sock, const struct nsbox_buf *payload,
                                 struct nsbox_error *err);

/* launcher-process.c */
/* sched, ioprio, mempolicy, personality: before the identity drops capabilities. */
int nsbox_process_attributes (const struct nsbox_program *prog, struct nsbox_error *err);
/* `umask`, 0022 without it. */
int nsbox_process_umask (const struct nsbox_program *prog, struct nsbox_error *err);
/* HOME of uid in the box's /etc/passwd, "/" when there is none. */
int nsbox_process_home (uid_t uid, char *home, size_t size, struct nsbox_error *err);

/* launcher-hold.c */
int nsbox_hold_listen (const char *path, int *fd, struct nsbox_error *err);
/* Child: says "held" on *sync_fd, closes it and waits for `start`; *sync_fd becomes
 * start's connection. */
int nsbox_hold_wait (int *sync_fd, int *hold_fd, struct nsbox_error *err);

/* launcher-hooks.c */
bool nsbox_has_hooks (const struct nsbox_program *prog, const char *kind);
/* Every `hook` op of this kind, in program order; box_pid goes into the state. */
int nsbox_run_hooks (const struct nsbox_program *prog, const char *kind, pid_t box_pid,
                     struct nsbox_error *err);
/* The runtime's state object with "pid" added. */
int nsbox_state_with_pid (const char *state, pid_t pid, struct nsbox_buf *out);

/* launcher-final.c */
struct nsbox_final
{
  int sync_fd;     /* CLOEXEC end that tells the parent about exec; after `hold`, start's
                      connection */
  int hold_fd;     /* from `hold`, or -1 */
  int listener_fd; /* from `seccomp.listener`, or -1 */
  pid_t host_pid;  /* the process in the launcher's pid namespace (hook state, agent) */
};
/* The last steps in the child, shared by both modes: attributes, identity, caps,
 * no_new_privs, cwd, the program, fds, [hold, startContainer hooks], seccomp, exec.
 * Returns only on failure. */
int nsbox_final_exec (const struct nsbox_program *prog, struct nsbox_final *f,
                      struct nsbox_error *err);
/* Resets the signal mask and every disposition (the shim ignores SIGPIPE/SIGINT/SIGHUP:
 * the box must not inherit that). */
void nsbox_reset_signals (void);

/* PR_SET_DUMPABLE 0 again, after a credential change reset it (launcher-sync.c). */
int nsbox_undumpable (struct nsbox_error *err);

/* launcher-tty.c */
struct nsbox_tty
{
  int master;
  int slave;
};
int nsbox_tty_open (struct nsbox_tty *tty, struct nsbox_error *err);
int nsbox_tty_open_host (struct nsbox_tty *tty, struct nsbox_error *err);
/* Child: new session, the slave as stdio and controlling terminal. */
int nsbox_tty_child (struct nsbox_tty *tty, struct nsbox_error *err);
/* Join mode without a pty: each of fds 0-2 that is a terminal gets a pipe instead (child
 * end, launcher end; -1 where the fd passes as it is). */
struct nsbox_relay
{
  int child[3];
  int host[3];
};
int nsbox_relay_open (struct nsbox_relay *relay, struct nsbox_error *err);
/* Child: the pipes become its fds 0-2. */
int nsbox_relay_child (struct nsbox_relay *relay, struct nsbox_error *err);
void nsbox_relay_close_child_ends (struct nsbox_relay *relay);
void nsbox_relay_release (struct nsbox_relay *relay);
/* Parent: forwards signals to the child, relays the pty (when tty->master >= 0) or the
 * relay pipes until the child exits; returns its wait status. */
int nsbox_supervise (pid_t child, int pidfd, struct nsbox_tty *tty, struct nsbox_relay *relay,
                     int *status, struct nsbox_error *err);

#endif
