/* Host ops: what the launcher does to itself before it clones (create mode) or forks
 * (join mode), and the limits it puts on the child from outside. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>

static const struct
{
  const char *name;
  unsigned long flag;
} namespace_names[] = {
  { "user", CLONE_NEWUSER }, { "pid", CLONE_NEWPID },       { "mnt", CLONE_NEWNS },
  { "uts", CLONE_NEWUTS },   { "ipc", CLONE_NEWIPC },       { "net", CLONE_NEWNET },
  { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int
namespace_flag (const char *name, unsigned long *flag)
{
  for (size_t i = 0; i < sizeof namespace_names / sizeof namespace_names[0]; i++)
    if (strcmp (namespace_names[i].name, name) == 0)
      {
        *flag = namespace_names[i].flag;
        return 0;
      }
  return -1;
}

int
nsbox_parse_namespaces (const struct nsbox_op *op, unsigned long *flags,
                        struct nsbox_error *err)
{
  for (size_t i = 0; i < op->argc; i++)
    {
      unsigned long flag;
      if (namespace_flag (op->args[i], &flag) < 0)
        return nsbox_fail (err, EINVAL, "unknown namespace '%s'", op->args[i]);
      *flags |= flag;
    }
  return 0;
}

static int
write_own_pid (const char *path, struct nsbox_error *err)
{
  char pid[32];
  int len = snprintf (pid, sizeof pid, "%d", getpid ());
  return nsbox_write_file (path, pid, len, err);
}

/* Puts the box in the cgroup whose `cgroup.procs` file is PATH. A write of a pid to
 * `cgroup.procs` takes the kernel's global threadgroup lock, whose write side waits for an
 * RCU grace period: milliseconds on a busy host, every start and exec. So:
 * - cgroup v1 (a `tasks` file beside it): "0" goes to `tasks`. It moves the calling thread,
 *   which is the whole launcher (it has one thread), and the kernel skips that lock.
 * - cgroup2, in create mode: the child is cloned into it (CLONE_INTO_CGROUP, as `cgroup.into`
 *   does; a later `cgroup.into` replaces it), which takes that lock only for reading.
 * - otherwise (join mode on cgroup2) the launcher's pid goes to `cgroup.procs`. */
static int
join_cgroup (const char *path, struct nsbox_host *host, bool join, struct nsbox_error *err)
{
  const char *slash = strrchr (path, '/');
  char dir[PATH_MAX], tasks[PATH_MAX + 8];
  struct statfs sfs;

  if (slash && strcmp (slash, "/cgroup.procs") == 0
      && snprintf (dir, sizeof dir, "%.*s", (int) (slash - path), path) < (int) sizeof dir)
    {
      cleanup_fd int fd = -1;
      snprintf (tasks, sizeof tasks, "%s/tasks", dir);
      fd = open (tasks, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          if (write (fd, "0", 1) == 1)
            return 0;
          return nsbox_fail (err, errno, "write '%s'", tasks);
        }
      if (errno != ENOENT)
        return nsbox_fail (err, errno, "open '%s'", tasks);
      if (!join && host->cgroup_fd < 0)
        {
          fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (fd < 0)
            return nsbox_fail (err, errno, "open '%s'", dir);
          if (fstatfs (fd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
            {
              host->cgroup_fd = nsbox_steal_fd (&fd);
              return 0;
            }
        }
    }
  return write_own_pid (path, err);
}

/* The cgroup v2 path of `pid` as the host sees it: the `0::` line of /proc/PID/cgroup. */
static int
unified_path_of (pid_t pid, char *path, size_t size, struct nsbox_error *err)
{
  char file[64], buf[8192];
  ssize_t n;
  const char *line;

  snprintf (file, sizeof file, "/proc/%d/cgroup", (int) pid);
  n = nsbox_read_small_file (file, buf, sizeof buf);
  if (n < 0)
    return nsbox_fail (err, errno, "read '%s'", file);
  for (line = buf; line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    if (strncmp (line, "0::/", 4) == 0)
      {
        size_t len = strcspn (line + 3, "\n");
        if (len >= size)
          return nsbox_fail (err, ENAMETOOLONG, "the cgroup of pid %d", (int) pid);
        memcpy (path, line + 3, len);
        path[len] = '\0';
        return 0;
      }
  return nsbox_fail (err, ENOENT, "pid %d has no cgroup v2 path in '%s'", (int) pid, file);
}

/* Join mode, when the box's own cgroup refused the process with EBUSY: on cgroup v2 a box that
 * runs its own cgroup tree (systemd) turns its cgroup into an inner node with controllers on,
 * where no process may be added (the no-internal-process rule). The process then goes where the
 * box's init is, as runc and crun do — only ever beneath the box's cgroup: `box_procs` is
 * <mount><box path>/cgroup.procs, and the init's path must extend <box path>. */
static int
join_init_cgroup (const char *box_procs, const struct nsbox_program *prog, struct nsbox_error *err)
{
  const struct nsbox_op *join_pid = nsbox_program_find (prog, "join.pid");
  char box_dir[PATH_MAX], init_path[PATH_MAX], target[PATH_MAX];
  long long pid;
  size_t dir_len;

  if (!join_pid || nsbox_parse_long (join_pid->args[0], 1, INT32_MAX, &pid) < 0)
    return nsbox_fail (err, EINVAL, "no init to join the cgroup of");
  if (snprintf (box_dir, sizeof box_dir, "%s", box_procs) >= (int) sizeof box_dir || !strrchr (box_dir, '/'))
    return nsbox_fail (err, ENAMETOOLONG, "'%s'", box_procs);
  *strrchr (box_dir, '/') = '\0';
  dir_len = strlen (box_dir);
  if (unified_path_of ((pid_t) pid, init_path, sizeof init_path, err) < 0)
    return -1;
  if (strstr (init_path, "/../") || strstr (init_path, "/./"))
    return nsbox_fail (err, EINVAL, "the init's cgroup '%s' is not a plain path", init_path);
  /* The box path is the longest tail of box_dir, at a '/', that the init's path extends. */
  for (const char *tail = strchr (box_dir, '/'); tail; tail = strchr (tail + 1, '/'))
    {
      size_t len = dir_len - (size_t) (tail - box_dir);
      if (strncmp (init_path, tail, len) != 0 || init_path[len] != '/')
        continue;
      if (snprintf (target, sizeof target, "%s%s/cgroup.procs", box_dir, init_path + len) >= (int) sizeof target)
        return nsbox_fail (err, ENAMETOOLONG, "the init's cgroup '%s'", init_path);
      return write_own_pid (target, err);
    }
  return nsbox_fail (err, EBUSY, "'%s' takes no process (controllers on beneath it) and the init's cgroup '%s' is not beneath it",
                     box_procs, init_path);
}

static int
join_ns_path (const struct nsbox_op *op, struct nsbox_error *err)
{
  unsigned long flag;
  cleanup_fd int fd = -1;

  if (namespace_flag (op->args[0], &flag) < 0)
    return nsbox_fail (err, EINVAL, "unknown namespace '%s'", op->args[0]);
  fd = open (op->args[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail (err, errno, "open '%s'", op->args[1]);
  /* The type is checked by the kernel: a path to another kind of namespace fails. */
  if (setns (fd, (int) flag) < 0)
    return nsbox_fail (err, errno, "setns '%s'", op->args[1]);
  return 0;
}

static int
timens_offset (const struct nsbox_op *op, struct nsbox_host *host, struct nsbox_error *err)
{
  char line[128];
  int len = nsbox_timens_offset_line (op, line, sizeof line, err);

  if (len < 0)
    return -1;
  /* With a user namespace the child makes it, owned by that namespace (launcher-timens.c). */
  if (host->clone_flags & CLONE_NEWUSER)
    {
      host->timens_in_child = true;
      return 0;
    }
  /* The new time namespace is for the children only, and its offsets can be written
   * until a first process enters it (our clone child). */
  if (!host->timens_offsets)
    {
      if (unshare (CLONE_NEWTIME) < 0)
        return nsbox_fail (err, errno, "unshare the time namespace");
      host->timens_offsets = true;
    }
  return nsbox_write_file ("/proc/self/timens_offsets", line, len, err);
}

int
nsbox_host_ops (const struct nsbox_program *prog, struct nsbox_host *host,
                struct nsbox_error *err)
{
  bool join = nsbox_program_mode (prog) == NSBOX_IN_JOIN;

  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      int ret = 0;

      if (op->spec->phase != NSBOX_PHASE_HOST)
        continue;
      if (strcmp (op->name, "cgroup.procs") == 0)
        {
          ret = join_cgroup (op->args[0], host, join, err);
          if (ret < 0 && join && err->errnum == EBUSY)
            ret = join_init_cgroup (op->args[0], prog, err);
        }
      else if (strcmp (op->name, "cgroup.into") == 0)
        {
          if (host->cgroup_fd >= 0)
            close (host->cgroup_fd);
          host->cgroup_fd = open (op->args[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (host->cgroup_fd < 0)
            ret = nsbox_fail (err, errno, "open '%s'", op->args[0]);
        }
      else if (strcmp (op->name, "namespaces") == 0)
        ret = nsbox_parse_namespaces (op, &host->clone_flags, err);
      else if (strcmp (op->name, "join.ns") == 0 && !join)
        ret = join_ns_path (op, err);
      else if (strcmp (op->name, "join.pid") == 0)
        {
          long long pid;
          if (nsbox_parse_long (op->args[0], 1, INT32_MAX, &pid) < 0)
            ret = nsbox_fail (err, EINVAL, "bad pid '%s'", op->args[0]);
          else if ((host->pidfd = pidfd_open ((pid_t) pid, 0)) < 0)
            ret = nsbox_fail (err, errno, "pidfd_open %lld", pid);
        }
      else if (strcmp (op->name, "timens.offset") == 0)
        ret = timens_offset (op, host, err);
      else if (strcmp (op->name, "hold") == 0)
        {
          nsbox_close (&host->hold_fd);
          ret = nsbox_hold_listen (op->args[0], &host->hold_fd, err);
        }
      else if (strcmp (op->name, "seccomp.listener") == 0)
        {
          nsbox_close (&host->listener_fd);
          ret = nsbox_seccomp_listener_connect (op->args[0], &host->listener_fd, err);
        }
      else if (strcmp (op->name, "seccomp.cache") == 0)
        ret = nsbox_seccomp_prepare (prog, op->args[0], err);
      else if (strncmp (op->name, "bpf.", 4) == 0)
        ret = nsbox_bpf_op (op, err);
      if (ret < 0)
        {
          nsbox_error_step (err, op->name);
          return -1;
        }
    }
  return 0;
}

int
nsbox_host_join (const struct nsbox_program *prog, struct nsbox_host *host,
                 struct nsbox_error *err)
{
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      int ret = 0;

      if (strcmp (op->name, "join.ns") == 0)
        ret = join_ns_path (op, err);
      else if (strcmp (op->name, "join.pid") == 0 && host->clone_flags != 0)
        {
          /* One call for every namespace: the kernel enters them in the right order
           * (user first) and either all or none. */
          if (setns (host->pidfd, (int) host->clone_flags) < 0)
            ret = nsbox_fail (err, errno, "setns into the namespaces of pid %s", op->args[0]);
        }
      if (ret < 0)
        {
          nsbox_error_step (err, op->name);
          return -1;
        }
    }
  return 0;
}

void
nsbox_host_release (struct nsbox_host *host)
{
  nsbox_close (&host->cgroup_fd);
  nsbox_close (&host->pidfd);
  nsbox_close (&host->hold_fd);
  nsbox_close (&host->listener_fd);
}

unsigned
nsbox_preserved_fds (const struct nsbox_program *prog)
{
  const struct nsbox_op *op = nsbox_program_find (prog, "preserve_fds");
  long long n;

  /* Checked when the program was validated. */
  if (op == NULL || nsbox_parse_long (op->args[0], 0, 4096, &n) < 0)
    return 0;
  return (unsigned) n;
}

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_STACK", RLIMIT_STACK },
  { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int
parse_rlim (const char *text, rlim_t *out)
{
  long long value;
  if (strcmp (text, "unlimited") == 0)
    {
      *out = RLIM_INFINITY;
      return 0;
    }
  if (nsbox_parse_long (text, 0, INT64_MAX, &value) < 0)
    return -1;
  *out = (rlim_t) value;
  return 0;
}

static int
set_rlimit (const struct nsbox_op *op, pid_t pid, struct nsbox_error *err)
{
  struct rlimit limit;

  for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++)
    if (strcmp (rlimit_names[i].name, op->args[0]) == 0)
      {
        if (parse_rlim (op->args[1], &limit.rlim_cur) < 0
            || parse_rlim (op->args[2], &limit.rlim_max) < 0 || limit.rlim_cur > limit.rlim_max)
          return nsbox_fail (err, EINVAL, "bad limits '%s' '%s'", op->args[1], op->args[2]);
        if (prlimit (pid, rlimit_names[i].resource, &limit, NULL) < 0)
          return nsbox_fail (err, errno, "prlimit %s", op->args[0]);
        return 0;
      }
  return nsbox_fail (err, EINVAL, "unknown resource '%s'", op->args[0]);
}

/* rlimit and oom_score_adj are set from outside: raising a hard limit or lowering the
 * score needs CAP_SYS_RESOURCE in the initial user namespace, which the box's root does
 * not have. pid 0 means the launcher itself (join mode, before it enters the box). */
int
nsbox_parent_limits (const struct nsbox_program *prog, pid_t pid, struct nsbox_error *err)
{
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      int ret = 0;

      if (strcmp (op->name, "rlimit") == 0)
        ret = set_rlimit (op, pid, err);
      else if (strcmp (op->name, "oom_score_adj") == 0)
        {
          char path[64];
          long long score;
          if (nsbox_parse_long (op->args[0], -1000, 1000, &score) < 0)
            ret = nsbox_fail (err, EINVAL, "bad score '%s'", op->args[0]);
          else
            {
              if (pid == 0)
                snprintf (path, sizeof path, "/proc/self/oom_score_adj");
              else
                snprintf (path, sizeof path, "/proc/%d/oom_score_adj", pid);
              ret = nsbox_write_file (path, op->args[0], strlen (op->args[0]), err);
            }
        }
      if (ret < 0)
        {
          nsbox_error_step (err, op->name);
          return -1;
        }
    }
  return 0;
}
