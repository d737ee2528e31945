/* The handshake between the launcher and its child, the same in both modes: one
 * SOCK_STREAM socketpair, CLOEXEC on both ends. The parent sends one byte when the child
 * may go on (id maps written); the child answers with nothing at all when execve
 * succeeds (its end is closed by exec) or with `STEP ERRNO MESSAGE` before it exits. */
#include "launcher.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

int
nsbox_kill_and_reap (pid_t pid, int pidfd)
{
  int status;
  if (pidfd >= 0)
    pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
  else
    kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return -1;
}

int
nsbox_read_child_report (int fd, struct nsbox_error *err, char *step_buf, size_t step_size)
{
  cleanup_free char *text = NULL;
  size_t len;

  if (nsbox_read_all (fd, 4096, &text, &len, err) < 0)
    {
      err->step = "handshake";
      return -1;
    }
  if (len == 0)
    return 0;
  nsbox_error_parse (err, text, step_buf, step_size);
  return -1;
}

void
nsbox_child_report (int sync_fd, const struct nsbox_error *err)
{
  char line[sizeof err->msg + 64];
  nsbox_error_format (err, line, sizeof line);
  (void) nsbox_write_all (sync_fd, line, strlen (line));
}

void
nsbox_child_arm_death_signal (int sync_fd)
{
  struct pollfd peer = { .fd = sync_fd, .events = POLLRDHUP };

  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* The launcher may have died before the signal was armed: its end of the socket is
   * then closed. */
  if (poll (&peer, 1, 0) > 0 && (peer.revents & (POLLRDHUP | POLLHUP)))
    _exit (1);
}

/* A credential change (setres[ug]id, setgroups, capset, setns into a user namespace) makes
 * the kernel reset "dumpable" to fs.suid_dumpable (commit_creds), which a host may set to 1.
 * Until exec a box process sharing our new uid must not ptrace us or read /proc/PID/{mem,fd},
 * so each change is followed by this, as runc does. */
int
nsbox_undumpable (struct nsbox_error *err)
{
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return nsbox_fail (err, errno, "PR_SET_DUMPABLE 0 after a credential change");
  return 0;
}

int
nsbox_become_ns_root (struct nsbox_error *err)
{
  if (setresgid (0, 0, 0) < 0)
    return nsbox_fail (err, errno, "setresgid 0 in the user namespace");
  if (setresuid (0, 0, 0) < 0)
    return nsbox_fail (err, errno, "setresuid 0 in the user namespace");
  return nsbox_undumpable (err);
}
