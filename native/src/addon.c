/* nsbox_native.node: host-side calls for the runtime (native/PROTOCOL.md §4).
 *
 * Two layers. The core (`host_*`) is plain C: each call returns an int < 0 on failure and
 * fills a `struct host_error` with the errno, the syscall and the path. The glue (`js_*`)
 * only converts JS values to C and back, and turns a host_error into a thrown Error with
 * `code` (errno name), `errno` (negative, as Node's own system errors), `syscall` and
 * `path`. Every call is a single syscall or two, safe in a threaded process. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

#include <node_api.h>

#include "addon-glue.h"
#include "addon-idmap.h"
#include "addon-seccomp.h"
#include "addon-netlink.h"
#include "addon-nftables.h"
#include "remove-tree.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* ------------------------------------------------------------------------------------ */
/* Core                                                                                   */
/* ------------------------------------------------------------------------------------ */

struct host_error
{
  int errnum;
  const char *syscall;
  char path[PATH_MAX];
};

static int
host_fail (struct host_error *err, int errnum, const char *syscall, const char *path)
{
  err->errnum = errnum;
  err->syscall = syscall;
  err->path[0] = '\0';
  if (path)
    snprintf (err->path, sizeof err->path, "%s", path);
  return -1;
}

static int
host_pidfd_open (pid_t pid, int *fd, struct host_error *err)
{
  /* pidfd_open sets O_CLOEXEC on the new fd. */
  int ret = syscall (SYS_pidfd_open, pid, 0);

  if (ret < 0)
    return host_fail (err, errno, "pidfd_open", NULL);
  *fd = ret;
  return 0;
}

static int
host_pidfd_send_signal (int fd, int sig, struct host_error *err)
{
  if (syscall (SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
    return host_fail (err, errno, "pidfd_send_signal", NULL);
  return 0;
}

static int
host_close (int fd, struct host_error *err)
{
  if (close (fd) < 0 && errno != EINTR)
    return host_fail (err, errno, "close", NULL);
  return 0;
}

/* A process is alive when it exists and has not exited: a pidfd is readable once its
 * process has exited, zombie included, and refers to that process only, so the answer
 * cannot be about another process that reused the pid meanwhile. */
static int
host_process_alive (pid_t pid, bool *alive, struct host_error *err)
{
  struct pollfd pfd = { .events = POLLIN };
  int ret;

  if (pid <= 0)
    return host_fail (err, EINVAL, "pidfd_open", NULL);
  pfd.fd = syscall (SYS_pidfd_open, pid, 0);
  if (pfd.fd < 0)
    {
      if (errno == ESRCH)
        {
          *alive = false;
          return 0;
        }
      return host_fail (err, errno, "pidfd_open", NULL);
    }
  do
    ret = poll (&pfd, 1, 0);
  while (ret < 0 && errno == EINTR);
  if (ret < 0)
    {
      int e = errno;
      close (pfd.fd);
      return host_fail (err, e, "poll", NULL);
    }
  close (pfd.fd);
  *alive = ret == 0;
  return 0;
}

static int
host_statfs (const char *path, struct statfs *out, struct host_error *err)
{
  if (statfs (path, out) < 0)
    return host_fail (err, errno, "statfs", path);
  return 0;
}

static int
host_ns_inode (pid_t pid, const char *name, uint64_t *ino, struct host_error *err)
{
  char path[64];
  struct stat st;

  if (pid <= 0 || name[0] == '\0' || strchr (name, '/') || strlen (name) > 16)
    return host_fail (err, EINVAL, "stat", name);
  snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) pid, name);
  if (stat (path, &st) < 0)
    return host_fail (err, errno, "stat", path);
  *ino = st.st_ino;
  return 0;
}

/* The host name (and domain name, when given) of the UTS namespace of the process behind a
 * pidfd, set from a thread of its own: setns changes the calling thread's namespaces only,
 * and that thread ends right after, so no thread of Node's ever leaves the host's. */
struct uts_request
{
  int pidfd;
  const char *hostname, *domainname;
  int errnum;
  const char *syscall;
};

static void *
uts_thread (void *data)
{
  struct uts_request *r = data;

  if (setns (r->pidfd, CLONE_NEWUTS) < 0)
    r->errnum = errno, r->syscall = "setns";
  else if (sethostname (r->hostname, strlen (r->hostname)) < 0)
    r->errnum = errno, r->syscall = "sethostname";
  else if (r->domainname && setdomainname (r->domainname, strlen (r->domainname)) < 0)
    r->errnum = errno, r->syscall = "setdomainname";
  return NULL;
}

static int
host_set_uts_names (int pidfd, const char *hostname, const char *domainname,
                    struct host_error *err)
{
  struct uts_request r = { pidfd, hostname, domainname, 0, NULL };
  pthread_t thread;
  int rc = pthread_create (&thread, NULL, uts_thread, &r);

  if (rc != 0)
    return host_fail (err, rc, "pthread_create", NULL);
  pthread_join (thread, NULL);
  if (r.errnum != 0)
    return host_fail (err, r.errnum, r.syscall, hostname);
  return 0;
}

static int
host_umount (const char *path, int flags, struct host_error *err)
{
  if (umount2 (path, flags) < 0)
    return host_fail (err, errno, "umount2", path);
  return 0;
}

/* The kernel says whether a path is the root of a mount (STATX_ATTR_MOUNT_ROOT, Linux
 * 5.8); without it, the path is a mount point when its mount id differs from its
 * parent's. Symlinks are followed, as mountpoint(1) does. */
static int
host_is_mountpoint (const char *path, bool *out, struct host_error *err)
{
  struct statx stx, parent;
  char parent_path[PATH_MAX];

  if (statx (AT_FDCWD, path, 0, STATX_INO | STATX_MNT_ID, &stx) < 0)
    return host_fail (err, errno, "statx", path);
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    {
      *out = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
      return 0;
    }
  if ((size_t) snprintf (parent_path, sizeof parent_path, "%s/..", path) >= sizeof parent_path)
    return host_fail (err, ENAMETOOLONG, "statx", path);
  if (statx (AT_FDCWD, parent_path, 0, STATX_INO | STATX_MNT_ID, &parent) < 0)
    return host_fail (err, errno, "statx", parent_path);
  if (!(stx.stx_mask & STATX_MNT_ID) || !(parent.stx_mask & STATX_MNT_ID))
    *out = stx.stx_dev_major != parent.stx_dev_major || stx.stx_dev_minor != parent.stx_dev_minor
           || stx.stx_ino == parent.stx_ino;
  else
    *out = stx.stx_mnt_id != parent.stx_mnt_id || stx.stx_ino == parent.stx_ino;
  return 0;
}

/* Starts `path` in a new session without copying this (large, threaded) process: glibc's
 * posix_spawn uses CLONE_VM|CLONE_VFORK, where fork() would duplicate Node's page tables.
 * fds[i] becomes fd i of the child (-1: /dev/null); every other fd is closed (they are
 * all close-on-exec in Node). Signals get their default dispositions and an empty mask. */
static int
host_spawn_detached (const char *path, char *const argv[], const int *fds, int nfds, pid_t *pid,
                     struct host_error *err)
{
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t none, all;
  int high[16];
  int rc = -1, e;

  if (nfds > 16)
    return host_fail (err, EINVAL, "spawn: too many fds", NULL);
  for (int i = 0; i < nfds; i++)
    high[i] = -1;
  /* Move every source out of the way first, so no dup2 overwrites a later source. */
  for (int i = 0; i < nfds; i++)
    if (fds[i] >= 0 && (high[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
      {
        host_fail (err, errno, "fcntl F_DUPFD_CLOEXEC", NULL);
        goto out_fds;
      }
  posix_spawn_file_actions_init (&actions);
  posix_spawnattr_init (&attr);
  for (int i = 0; i < nfds; i++)
    if (high[i] >= 0)
      posix_spawn_file_actions_adddup2 (&actions, high[i], i);
    else
      posix_spawn_file_actions_addopen (&actions, i, "/dev/null", O_RDWR, 0);
  sigemptyset (&none);
  sigfillset (&all);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &all);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK
                                       | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  e = posix_spawn (pid, path, &actions, &attr, argv, environ);
  if (e != 0)
    host_fail (err, e, "posix_spawn", path);
  else
    rc = 0;
  posix_spawnattr_destroy (&attr);
  posix_spawn_file_actions_destroy (&actions);
out_fds:
  for (int i = 0; i < nfds; i++)
    if (high[i] >= 0)
      close (high[i]);
  return rc;
}

/* Collects the exit status of a child started by host_spawn_detached once it has exited,
 * so it does not stay a zombie while this process lives. Not our child, or already
 * collected: nothing to do. */
static bool
host_reap (pid_t pid)
{
  int status;
  pid_t got = waitpid (pid, &status, WNOHANG);

  return got == pid || (got < 0 && errno == ECHILD);
}

static int
host_pipe (int fds[2], struct host_error *err)
{
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return host_fail (err, errno, "pipe2", NULL);
  return 0;
}

/* The names of a file's extended attributes, the file itself when it is a symlink (llistxattr:
 * never followed). `names` gets them NUL-separated, `*size` their length. */
static int
host_list_xattrs (const char *path, char *names, size_t capacity, ssize_t *size, struct host_error *err)
{
  *size = llistxattr (path, names, capacity);
  if (*size < 0)
    return host_fail (err, errno, "llistxattr", path);
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Glue                                                                                   */
/* ------------------------------------------------------------------------------------ */

static napi_value
throw_host_error (napi_env env, const struct host_error *err)
{
  const char *name = strerrorname_np (err->errnum);
  char message[PATH_MAX + 128];
  napi_value error, code, msg, value;

  if (!name)
    name = "EUNKNOWN";
  if (err->path[0])
    snprintf (message, sizeof message, "%s '%s': %s", err->syscall, err->path,
              strerror (err->errnum));
  else
    snprintf (message, sizeof message, "%s: %s", err->syscall, strerror (err->errnum));
  NAPI_OK (napi_create_string_utf8 (env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_OK (napi_create_string_utf8 (env, message, NAPI_AUTO_LENGTH, &msg));
  NAPI_OK (napi_create_error (env, code, msg, &error));
  NAPI_OK (napi_create_int32 (env, -err->errnum, &value));
  NAPI_OK (napi_set_named_property (env, error, "errno", value));
  NAPI_OK (napi_create_string_utf8 (env, err->syscall, NAPI_AUTO_LENGTH, &value));
  NAPI_OK (napi_set_named_property (env, error, "syscall", value));
  if (err->path[0])
    {
      NAPI_OK (napi_create_string_utf8 (env, err->path, NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_named_property (env, error, "path", value));
    }
  napi_throw (env, error);
  return NULL;
}

static napi_value
js_pipe (napi_env env, napi_callback_info info)
{
  napi_value result, value;
  struct host_error err;
  int fds[2];

  (void) info;
  if (host_pipe (fds, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_create_array_with_length (env, 2, &result));
  for (uint32_t i = 0; i < 2; i++)
    {
      NAPI_OK (napi_create_int32 (env, fds[i], &value));
      NAPI_OK (napi_set_element (env, result, i, value));
    }
  return result;
}

static napi_value
js_reap (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  int32_t pid;

  if (!get_args (env, info, 1, argv) || !arg_int32 (env, argv[0], "pid", &pid))
    return NULL;
  NAPI_OK (napi_get_boolean (env, host_reap (pid), &result));
  return result;
}

/* spawnDetached(path, argv: string[], fds: number[]) → pid */
static napi_value
js_spawn_detached (napi_env env, napi_callback_info info)
{
  napi_value argv[3], item, result;
  struct host_error err;
  char path[PATH_MAX];
  char *args[64] = { NULL };
  int fds[16];
  uint32_t nargs, nfds;
  bool is_array;
  pid_t pid;
  napi_value ret = NULL;

  if (!get_args (env, info, 3, argv) || !arg_string (env, argv[0], "path", path, sizeof path))
    return NULL;
  if (napi_is_array (env, argv[1], &is_array) != napi_ok || !is_array
      || napi_get_array_length (env, argv[1], &nargs) != napi_ok || nargs >= 64)
    return throw_type_error (env, "The \"argv\" argument must be an array of fewer than 64 strings");
  if (napi_is_array (env, argv[2], &is_array) != napi_ok || !is_array
      || napi_get_array_length (env, argv[2], &nfds) != napi_ok || nfds > 16)
    return throw_type_error (env, "The \"fds\" argument must be an array of at most 16 integers");
  for (uint32_t i = 0; i < nfds; i++)
    {
      int32_t fd;
      if (napi_get_element (env, argv[2], i, &item) != napi_ok || !arg_int32 (env, item, "fds[i]", &fd))
        return NULL;
      fds[i] = fd;
    }
  for (uint32_t i = 0; i < nargs; i++)
    {
      char buf[PATH_MAX];
      if (napi_get_element (env, argv[1], i, &item) != napi_ok
          || !arg_string (env, item, "argv[i]", buf, sizeof buf))
        goto out;
      args[i] = strdup (buf);
      if (!args[i])
        {
          host_fail (&err, ENOMEM, "strdup", NULL);
          throw_host_error (env, &err);
          goto out;
        }
    }
  if (host_spawn_detached (path, args, fds, (int) nfds, &pid, &err) < 0)
    {
      throw_host_error (env, &err);
      goto out;
    }
  if (napi_create_int32 (env, pid, &result) == napi_ok)
    ret = result;
out:
  for (uint32_t i = 0; i < nargs && i < 64; i++)
    free (args[i]);
  return ret;
}

static napi_value
js_pidfd_open (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  struct host_error err;
  int32_t pid;
  int fd;

  if (!get_args (env, info, 1, argv) || !arg_int32 (env, argv[0], "pid", &pid))
    return NULL;
  if (host_pidfd_open (pid, &fd, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_create_int32 (env, fd, &result));
  return result;
}

static napi_value
js_pidfd_send_signal (napi_env env, napi_callback_info info)
{
  napi_value argv[2];
  struct host_error err;
  int32_t fd, sig;

  if (!get_args (env, info, 2, argv) || !arg_int32 (env, argv[0], "fd", &fd)
      || !arg_int32 (env, argv[1], "signal", &sig))
    return NULL;
  if (host_pidfd_send_signal (fd, sig, &err) < 0)
    return throw_host_error (env, &err);
  return undefined (env);
}

static napi_value
js_close (napi_env env, napi_callback_info info)
{
  napi_value argv[1];
  struct host_error err;
  int32_t fd;

  if (!get_args (env, info, 1, argv) || !arg_int32 (env, argv[0], "fd", &fd))
    return NULL;
  if (host_close (fd, &err) < 0)
    return throw_host_error (env, &err);
  return undefined (env);
}

static napi_value
js_process_alive (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  struct host_error err;
  int32_t pid;
  bool alive;

  if (!get_args (env, info, 1, argv) || !arg_int32 (env, argv[0], "pid", &pid))
    return NULL;
  if (host_process_alive (pid, &alive, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_get_boolean (env, alive, &result));
  return result;
}

static napi_value
js_statfs (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  struct host_error err;
  struct statfs st;
  char path[PATH_MAX];

  if (!get_args (env, info, 1, argv) || !arg_string (env, argv[0], "path", path, sizeof path))
    return NULL;
  if (host_statfs (path, &st, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_create_object (env, &result));
  /* f_type is a magic number (unsigned on the wire, e.g. 0xef53); counts fit a double up
   * to 2^53. */
  if (!set_number (env, result, "type", (double) (unsigned long) st.f_type)
      || !set_number (env, result, "bsize", (double) st.f_bsize)
      || !set_number (env, result, "blocks", (double) st.f_blocks)
      || !set_number (env, result, "bfree", (double) st.f_bfree)
      || !set_number (env, result, "bavail", (double) st.f_bavail)
      || !set_number (env, result, "files", (double) st.f_files)
      || !set_number (env, result, "ffree", (double) st.f_ffree))
    return NULL;
  return result;
}

static napi_value
js_ns_inode (napi_env env, napi_callback_info info)
{
  napi_value argv[2], result;
  struct host_error err;
  int32_t pid;
  char name[32], text[24];
  uint64_t ino;

  if (!get_args (env, info, 2, argv) || !arg_int32 (env, argv[0], "pid", &pid)
      || !arg_string (env, argv[1], "name", name, sizeof name))
    return NULL;
  if (host_ns_inode (pid, name, &ino, &err) < 0)
    return throw_host_error (env, &err);
  snprintf (text, sizeof text, "%llu", (unsigned long long) ino);
  NAPI_OK (napi_create_string_utf8 (env, text, NAPI_AUTO_LENGTH, &result));
  return result;
}

static napi_value
js_set_uts_names (napi_env env, napi_callback_info info)
{
  napi_value argv[3];
  napi_valuetype type;
  struct host_error err;
  int32_t pidfd;
  char hostname[65], domainname[65];
  bool with_domain;

  if (!get_args (env, info, 3, argv) || !arg_int32 (env, argv[0], "pidfd", &pidfd)
      || !arg_string (env, argv[1], "hostname", hostname, sizeof hostname))
    return NULL;
  NAPI_OK (napi_typeof (env, argv[2], &type));
  with_domain = type != napi_undefined && type != napi_null;
  if (with_domain && !arg_string (env, argv[2], "domainname", domainname, sizeof domainname))
    return NULL;
  if (host_set_uts_names (pidfd, hostname, with_domain ? domainname : NULL, &err) < 0)
    return throw_host_error (env, &err);
  return undefined (env);
}

static napi_value
js_umount (napi_env env, napi_callback_info info)
{
  napi_value argv[2];
  struct host_error err;
  char path[PATH_MAX];
  int32_t flags;

  if (!get_args (env, info, 2, argv) || !arg_string (env, argv[0], "path", path, sizeof path)
      || !arg_int32 (env, argv[1], "flags", &flags))
    return NULL;
  if (host_umount (path, flags, &err) < 0)
    return throw_host_error (env, &err);
  return undefined (env);
}

static napi_value
js_is_mountpoint (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  struct host_error err;
  char path[PATH_MAX];
  bool is_mountpoint;

  if (!get_args (env, info, 1, argv) || !arg_string (env, argv[0], "path", path, sizeof path))
    return NULL;
  if (host_is_mountpoint (path, &is_mountpoint, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_get_boolean (env, is_mountpoint, &result));
  return result;
}

/* listXattrs(path) → string[]: the attribute names, never following a symlink. */
static napi_value
js_list_xattrs (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result, value;
  struct host_error err;
  char path[PATH_MAX];
  static char names[65536]; /* XATTR_LIST_MAX: the kernel never lists more */
  ssize_t size;
  uint32_t count = 0;

  if (!get_args (env, info, 1, argv) || !arg_string (env, argv[0], "path", path, sizeof path))
    return NULL;
  if (host_list_xattrs (path, names, sizeof names, &size, &err) < 0)
    return throw_host_error (env, &err);
  NAPI_OK (napi_create_array (env, &result));
  for (ssize_t at = 0; at < size; at += (ssize_t) strlen (names + at) + 1)
    {
      NAPI_OK (napi_create_string_utf8 (env, names + at, NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_element (env, result, count++, value));
    }
  return result;
}

/* removeTree: the walk runs on a worker thread (a rootfs has tens of thousands of files);
 * the promise resolves to the list of mount points left in place. */
struct remove_tree_work
{
  napi_async_work work;
  napi_deferred deferred;
  char path[PATH_MAX];
  int ret;
  struct remove_tree_mounts mounts;
  struct remove_tree_error err;
};

static napi_value
mounts_to_array (napi_env env, const struct remove_tree_mounts *mounts)
{
  napi_value result, value;

  NAPI_OK (napi_create_array_with_length (env, mounts->count, &result));
  for (size_t i = 0; i < mounts->count; i++)
    {
      NAPI_OK (napi_create_string_utf8 (env, mounts->paths[i], NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_element (env, result, (uint32_t) i, value));
    }
  return result;
}

static napi_value
host_error_value (napi_env env, const struct remove_tree_error *rt)
{
  struct host_error err;
  napi_value error = NULL;
  bool pending;

  host_fail (&err, rt->errnum, rt->syscall, rt->path);
  throw_host_error (env, &err);
  if (napi_is_exception_pending (env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception (env, &error);
  return error;
}

static void
remove_tree_execute (napi_env env, void *data)
{
  struct remove_tree_work *job = data;

  (void) env;
  job->ret = remove_tree (job->path, &job->mounts, &job->err);
}

static void
remove_tree_complete (napi_env env, napi_status status, void *data)
{
  struct remove_tree_work *job = data;
  napi_value value = NULL;

  if (status == napi_ok && job->ret == 0)
    value = mounts_to_array (env, &job->mounts);
  if (value)
    napi_resolve_deferred (env, job->deferred, value);
  else
    {
      if (status != napi_ok || job->ret == 0)
        {
          job->err.errnum = status == napi_ok ? ENOMEM : ECANCELED;
          job->err.syscall = "removeTree";
          snprintf (job->err.path, sizeof job->err.path, "%s", job->path);
        }
      value = host_error_value (env, &job->err);
      if (!value)
        napi_get_undefined (env, &value);
      napi_reject_deferred (env, job->deferred, value);
    }
  remove_tree_mounts_free (&job->mounts);
  napi_delete_async_work (env, job->work);
  free (job);
}

/* removeTree(path) → Promise<string[]> */
static napi_value
js_remove_tree (napi_env env, napi_callback_info info)
{
  napi_value argv[1], promise, name;
  struct remove_tree_work *job = calloc (1, sizeof *job);

  if (!job)
    return throw_type_error (env, "out of memory");
  if (!get_args (env, info, 1, argv) || !arg_path (env, argv[0], "path", job->path, sizeof job->path)
      || napi_create_promise (env, &job->deferred, &promise) != napi_ok
      || napi_create_string_utf8 (env, "nsbox:removeTree", NAPI_AUTO_LENGTH, &name) != napi_ok
      || napi_create_async_work (env, NULL, name, remove_tree_execute, remove_tree_complete, job,
                                 &job->work)
             != napi_ok)
    {
      free (job);
      return NULL;
    }
  if (napi_queue_async_work (env, job->work) != napi_ok)
    {
      napi_delete_async_work (env, job->work);
      free (job);
      return NULL;
    }
  return promise;
}

/* removeTreeSync(path) → string[] */
static napi_value
js_remove_tree_sync (napi_env env, napi_callback_info info)
{
  napi_value argv[1], result;
  struct remove_tree_mounts mounts;
  struct remove_tree_error rt;
  struct host_error err;
  char path[PATH_MAX];

  if (!get_args (env, info, 1, argv) || !arg_path (env, argv[0], "path", path, sizeof path))
    return NULL;
  if (remove_tree (path, &mounts, &rt) < 0)
    {
      remove_tree_mounts_free (&mounts);
      host_fail (&err, rt.errnum, rt.syscall, rt.path);
      return throw_host_error (env, &err);
    }
  result = mounts_to_array (env, &mounts);
  remove_tree_mounts_free (&mounts);
  return result;
}

NAPI_MODULE_INIT ()
{
  static const napi_property_descriptor functions[] = {
    { "pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pidfdSendSignal", NULL, js_pidfd_send_signal, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "processAlive", NULL, js_process_alive, NULL, NULL, NULL, napi_enumerable, NULL },
    { "statfs", NULL, js_statfs, NULL, NULL, NULL, napi_enumerable, NULL },
    { "nsInode", NULL, js_ns_inode, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setUtsNames", NULL, js_set_uts_names, NULL, NULL, NULL, napi_enumerable, NULL },
    { "umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL },
    { "isMountpoint", NULL, js_is_mountpoint, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pipe", NULL, js_pipe, NULL, NULL, NULL, napi_enumerable, NULL },
    { "spawnDetached", NULL, js_spawn_detached, NULL, NULL, NULL, napi_enumerable, NULL },
    { "reap", NULL, js_reap, NULL, NULL, NULL, napi_enumerable, NULL },
    { "removeTree", NULL, js_remove_tree, NULL, NULL, NULL, napi_enumerable, NULL },
    { "removeTreeSync", NULL, js_remove_tree_sync, NULL, NULL, NULL, napi_enumerable, NULL },
    { "listXattrs", NULL, js_list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL },
    { "syscallName", NULL, js_syscall_name, NULL, NULL, NULL, napi_enumerable, NULL },
  };

  if (napi_define_properties (env, exports, sizeof functions / sizeof functions[0], functions)
      != napi_ok)
    return NULL;
  if (!addon_netlink_register (env, exports))
    return NULL;
  if (!addon_idmap_register (env, exports))
    return NULL;
  if (!addon_nftables_register (env, exports))
    return NULL;
  return exports;
}
