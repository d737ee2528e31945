/* Create mode (PROTOCOL.md §1).
 *
 * host ops → clone3 into the new namespaces (CLONE_INTO_CGROUP when asked) → the parent
 * writes setgroups/uid_map/gid_map and the limits, then lets the child go → the child
 * becomes root of its user namespace and runs the child ops in program order (mounts,
 * pivot_root, hostname, sysctl...) → the final steps and exec (launcher-final.c). The
 * parent learns that exec worked from the handshake socket (launcher-sync.c). */
#include "launcher.h"
#include "userns-map.h"
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

static int
op_sysctl (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  char path[PATH_MAX];
  cleanup_fd int fd = -1;
  struct statfs sfs;
  ssize_t n;

  if (strstr (op->args[0], "..") || strchr (op->args[0], '/'))
    return nsbox_fail (err, EINVAL, "bad sysctl key '%s'", op->args[0]);
  snprintf (path, sizeof path, "/proc/sys/%s", op->args[0]);
  for (char *c = path + strlen ("/proc/sys/"); *c; c++)
    if (*c == '.')
      *c = '/';
  fd = nsbox_open_in_root (m->root_fd, path, O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  /* The rootfs could have put a plain directory at /proc: write only to procfs. */
  if (fstatfs (fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return nsbox_fail (err, EXDEV, "'%s' is not on procfs", path);
  n = write (fd, op->args[1], strlen (op->args[1]));
  if (n < 0)
    return nsbox_fail (err, errno, "write '%s'", path);
  return 0;
}

/* `loopback.up`: a new network namespace has `lo` down; runc and crun bring it up. */
static int
op_loopback_up (struct nsbox_error *err)
{
  struct ifreq req = { 0 };
  cleanup_fd int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (sock < 0)
    return nsbox_fail (err, errno, "socket");
  strcpy (req.ifr_name, "lo");
  if (ioctl (sock, SIOCGIFFLAGS, &req) < 0)
    return nsbox_fail (err, errno, "get the flags of lo");
  req.ifr_flags |= IFF_UP;
  if (ioctl (sock, SIOCSIFFLAGS, &req) < 0)
    return nsbox_fail (err, errno, "bring lo up");
  return 0;
}

/* Before pivot_root: the launcher runs the prestart and createRuntime hooks (the box's
 * namespaces exist, its mounts are done), then we run the createContainer ones, in the
 * box's namespaces, still on the host's tree. */
static int
before_pivot (const struct nsbox_program *prog, int sync_fd, pid_t own_pid,
              struct nsbox_error *err)
{
  if ((nsbox_has_hooks (prog, "prestart") || nsbox_has_hooks (prog, "createRuntime"))
      && nsbox_child_request_hooks (sync_fd, err) < 0)
    return -1;
  return nsbox_run_hooks (prog, "createContainer", own_pid, err);
}

static int
child_op (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  int ret = nsbox_mount_op (m, op, err);

  if (ret <= 0)
    return ret;
  if (strcmp (op->name, "loopback.up") == 0)
    return op_loopback_up (err);
  if (strcmp (op->name, "hostname") == 0)
    {
      if (sethostname (op->args[0], strlen (op->args[0])) < 0)
        return nsbox_fail (err, errno, "sethostname '%s'", op->args[0]);
      return 0;
    }
  if (strcmp (op->name, "domainname") == 0)
    {
      if (setdomainname (op->args[0], strlen (op->args[0])) < 0)
        return nsbox_fail (err, errno, "setdomainname '%s'", op->args[0]);
      return 0;
    }
  if (strcmp (op->name, "sysctl") == 0)
    return op_sysctl (m, op, err);
  return nsbox_fail (err, ENOSYS, "op '%s' has no child implementation", op->name);
}

/* A rootfs the parent prepared as a tree (idmapped or not) is attached onto PATH: open
 * PATH now, while we are still the host's uid (the box's root may not be allowed to walk
 * to it). */
static int
open_rootfs_target (const struct nsbox_program *prog, struct nsbox_mounts *m,
                    struct nsbox_error *err)
{
  const struct nsbox_op *rootfs = nsbox_program_find (prog, "rootfs");

  if (rootfs == NULL || !nsbox_trees_has (m->trees, rootfs->args[0]))
    return 0;
  m->rootfs_target = open (rootfs->args[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (m->rootfs_target < 0)
    {
      err->step = "rootfs";
      return nsbox_fail (err, errno, "open '%s'", rootfs->args[0]);
    }
  return 0;
}

static int
child_setup (const struct nsbox_program *prog, struct nsbox_final *f, unsigned long ns_flags,
             struct nsbox_error *err)
{
  __attribute__ ((cleanup (nsbox_trees_release))) struct nsbox_trees trees = { 0 };
  struct nsbox_mounts m = { .root_fd = -1, .null_fd = -1, .rootfs_target = -1 };
  int ret;

  if (nsbox_trees_init (&trees) < 0)
    return nsbox_fail (err, ENOMEM, "allocate the trees");
  m.trees = &trees;
  /* Wait for the parent: id maps, limits and the prepared trees first. */
  if (nsbox_trees_receive (f->sync_fd, prog, &trees, &f->host_pid) < 0)
    _exit (1); /* the parent is gone or gave up: nothing to report to */
  if (open_rootfs_target (prog, &m, err) < 0)
    return -1;
  err->step = "handshake";
  /* Root of the new user namespace (uid 0 is mapped by the parent). */
  if ((ns_flags & CLONE_NEWUSER) && nsbox_program_find (prog, "uidmap"))
    {
      /* Still the host's root on the file side (our /proc files are root's, as we are not
       * dumpable), already with every capability in the box's user namespace. */
      if ((ns_flags & CLONE_NEWTIME) && nsbox_program_find (prog, "timens.offset")
          && nsbox_timens_child (prog, err) < 0)
        {
          nsbox_mounts_release (&m);
          return -1;
        }
      if (nsbox_become_ns_root (err) < 0)
        {
          nsbox_mounts_release (&m);
          return -1;
        }
      /* Changing credentials cleared the parent-death signal. */
      nsbox_child_arm_death_signal (f->sync_fd);
    }
  /* A cgroup namespace is rooted at the cgroup of the process that creates it: created
   * here rather than by clone3, it is rooted at the box's cgroup even with
   * CLONE_INTO_CGROUP. */
  if ((ns_flags & CLONE_NEWCGROUP) && unshare (CLONE_NEWCGROUP) < 0)
    {
      nsbox_mounts_release (&m);
      return nsbox_fail (err, errno, "unshare the cgroup namespace");
    }
  err->step = NULL;

  /* Modes given by the program are exact. */
  umask (0);
  ret = nsbox_mounts_init (prog, &m, err);
  for (size_t i = 0; ret == 0 && i < prog->n_ops; i++)
    if (prog->ops[i].spec->phase == NSBOX_PHASE_CHILD)
      {
        if (strcmp (prog->ops[i].name, "pivot_root") == 0)
          ret = before_pivot (prog, f->sync_fd, f->host_pid, err);
        if (ret == 0)
          ret = child_op (&m, &prog->ops[i], err);
        if (ret < 0)
          nsbox_error_step (err, prog->ops[i].name);
      }
  if (ret == 0)
    ret = nsbox_mounts_finish (&m, err);
  nsbox_mounts_release (&m);
  if (ret < 0)
    return -1;
  /* A session of its own, always: whoever started the launcher (an operator's shell) keeps
   * its session and controlling terminal to itself. */
  if (setsid () < 0)
    {
      err->step = "stdio";
      return nsbox_fail (err, errno, "setsid");
    }
  /* A box started on a terminal (the shim's pty, nsbox-runc's) gets it as its controlling
   * tty, so that job control and Ctrl-C work for its init. Best effort, and never stolen
   * (TIOCSCTTY 0): a terminal that controls another session (a caller's own, when
   * nsbox-runc runs in the foreground without -t) stays that session's. */
  if (isatty (STDIN_FILENO))
    (void) ioctl (STDIN_FILENO, TIOCSCTTY, 0);
  return nsbox_final_exec (prog, f, err);
}

static __attribute__ ((noreturn)) void
child_main (const struct nsbox_program *prog, struct nsbox_final *f, unsigned long ns_flags)
{
  struct nsbox_error err = { 0 };

  /* The result fd is the launcher's to write. */
  close (NSBOX_RESULT_FD);
  /* If the launcher dies during the setup, so does the half-built box. Cleared before
   * exec or hold (launcher-final.c). */
  nsbox_child_arm_death_signal (f->sync_fd);
  child_setup (prog, f, ns_flags, &err);
  if (f->sync_fd >= 0)
    nsbox_child_report (f->sync_fd, &err);
  _exit (1);
}

/* Parent-phase ops: setgroups before gid_map (the kernel wants it in that order), then
 * uid_map, gid_map, and the limits. */
static int
parent_setup (const struct nsbox_program *prog, pid_t pid, struct nsbox_error *err)
{
  const struct nsbox_op *uidmap = nsbox_program_find (prog, "uidmap");
  const struct nsbox_op *gidmap = nsbox_program_find (prog, "gidmap");
  const struct nsbox_op *setgroups_op = nsbox_program_find (prog, "setgroups");

  if (setgroups_op)
    {
      err->step = "setgroups";
      if (strcmp (setgroups_op->args[0], "deny") != 0
          && strcmp (setgroups_op->args[0], "allow") != 0)
        return nsbox_fail (err, EINVAL, "bad value '%s'", setgroups_op->args[0]);
      if (nsbox_write_proc_file (pid, "setgroups", setgroups_op->args[0], err) < 0)
        return -1;
    }
  err->step = "uidmap";
  if (uidmap && nsbox_write_proc_file (pid, "uid_map", uidmap->args[0], err) < 0)
    return -1;
  err->step = "gidmap";
  if (gidmap && nsbox_write_proc_file (pid, "gid_map", gidmap->args[0], err) < 0)
    return -1;
  err->step = NULL;
  return nsbox_parent_limits (prog, pid, err);
}

int
nsbox_run_create (const struct nsbox_program *prog, pid_t *out_pid, struct nsbox_error *err,
                  char *step_buf, size_t step_size)
{
  __attribute__ ((cleanup (nsbox_host_release))) struct nsbox_host host = NSBOX_HOST_INIT;
  unsigned long clone_flags;
  bool held;
  cleanup_fd int parent_end = -1;
  cleanup_fd int pidfd = -1;
  __attribute__ ((cleanup (nsbox_trees_release))) struct nsbox_trees trees = { 0 };
  int sv[2];
  pid_t pid;

  if (nsbox_host_ops (prog, &host, err) < 0)
    return -1;
  if (nsbox_trees_init (&trees) < 0)
    return nsbox_fail (err, ENOMEM, "allocate the trees");
  clone_flags = host.clone_flags & ~CLONE_NEWCGROUP; /* unshared by the child */
  if (host.timens_offsets || host.timens_in_child)
    clone_flags &= ~CLONE_NEWTIME; /* pending for children with its offsets, or the child's to make */

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      err->step = "handshake";
      return nsbox_fail (err, errno, "socketpair");
    }
  parent_end = sv[0];

  struct clone_args args = {
    .flags = clone_flags | CLONE_PIDFD | (host.cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
    .pidfd = (uint64_t) (uintptr_t) &pidfd,
    .exit_signal = SIGCHLD,
    .cgroup = host.cgroup_fd >= 0 ? (uint64_t) host.cgroup_fd : 0,
  };
  pid = (pid_t) syscall (SYS_clone3, &args, sizeof args);
  if (pid < 0)
    {
      close (sv[1]);
      err->step = "clone";
      return nsbox_fail (err, errno, "clone3");
    }
  if (pid == 0)
    {
      struct nsbox_final f = { .sync_fd = sv[1], .hold_fd = host.hold_fd,
                               .listener_fd = host.listener_fd };
      close (sv[0]);
      child_main (prog, &f, host.clone_flags);
    }
  close (sv[1]);
  /* The child has its copies. */
  nsbox_close (&host.hold_fd);
  nsbox_close (&host.listener_fd);

  if (parent_setup (prog, pid, err) < 0
      || nsbox_trees_prepare (prog, pid, &trees, err) < 0
      || nsbox_trees_send_go (parent_end, &trees, pid, err) < 0)
    return nsbox_kill_and_reap (pid, pidfd);
  /* The child holds its own copies now. */
  nsbox_trees_release (&trees);
  if (nsbox_parent_follow_child (prog, parent_end, pid, &held, err, step_buf, step_size) < 0)
    return nsbox_kill_and_reap (pid, pidfd);
  *out_pid = pid;
  return 0;
}
