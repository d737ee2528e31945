/* `hold PATH` (create mode): the create/start split of an OCI runtime. The box is built
 * completely — mounts, pivot_root, identity, capabilities, no_new_privs, working
 * directory, the program found — and its init then waits, as the launcher (a sealed memfd
 * copy), until `start` connects to the unix socket at PATH. Only then do the
 * startContainer hooks run, the seccomp filter is loaded and the user's program is
 * exec'd, in the same process. runc's init waits on a fifo the same way.
 *
 * The launcher binds the socket (mode 0600, in the runtime's state directory, which the box
 * never sees) before it clones; the child inherits the listening fd. Once the child holds,
 * it tells the launcher ("held"), which reports `ok PID` and exits. The connection that
 * `start` makes then carries the outcome: nothing, closed by the successful execve (it is
 * close-on-exec), or one `STEP ERRNO MESSAGE` line when something failed. */
#include "launcher.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int
nsbox_hold_listen (const char *path, int *out, struct nsbox_error *err)
{
  struct sockaddr_un addr;
  cleanup_fd int dir_fd = -1;
  cleanup_fd int fd = -1;
  mode_t old_umask;
  int ret;

  if (nsbox_unix_address (path, &addr, &dir_fd, err) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail (err, errno, "socket");
  old_umask = umask (0177);
  ret = bind (fd, (struct sockaddr *) &addr, sizeof addr);
  umask (old_umask);
  if (ret < 0)
    return nsbox_fail (err, errno, "bind '%s'", path);
  if (listen (fd, 4) < 0)
    return nsbox_fail (err, errno, "listen '%s'", path);
  *out = nsbox_steal_fd (&fd);
  return 0;
}

int
nsbox_hold_wait (int *sync_fd, int *hold_fd, struct nsbox_error *err)
{
  static const char held[] = "held\n";
  int conn;

  err->step = "hold";
  if (nsbox_write_all (*sync_fd, held, sizeof held - 1) < 0)
    return nsbox_fail (err, errno, "tell the launcher that the box holds");
  /* The launcher is gone from here on: errors go to `start`'s connection. */
  nsbox_close (sync_fd);
  do
    conn = accept4 (*hold_fd, NULL, NULL, SOCK_CLOEXEC);
  while (conn < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (conn < 0)
    return nsbox_fail (err, errno, "wait for start");
  nsbox_close (hold_fd);
  *sync_fd = conn;
  err->step = NULL;
  return 0;
}
