/* The handshake between the launcher and its child, the same in both modes: one
 * SOCK_STREAM socketpair, CLOEXEC on both ends. The parent sends one byte when the child
 * may go on (id maps written), then the child's pid as the launcher sees it; the child
 * answers with nothing at all when execve succeeds (its end is closed by exec) or with
 * `STEP ERRNO MESSAGE` before it exits. In create mode the child may also say, as whole
 * messages, "hooks\n" (run the prestart and createRuntime hooks now; the parent answers
 * 'c') and "held\n" (built, waiting for `start`: the launcher's work is done). */
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

int
nsbox_parent_follow_child (const struct nsbox_program *prog, int fd, pid_t pid, bool *held,
                           struct nsbox_error *err, char *step_buf, size_t step_size)
{
  static const char hooks[] = "hooks\n", held_msg[] = "held\n";
  char text[4096 + 64];
  size_t used = 0;

  *held = false;
  for (;;)
    {
      ssize_t n = read (fd, text + used, sizeof text - 1 - used);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          err->step = "handshake";
          return nsbox_fail (err, errno, "read from the child");
        }
      used += (size_t) n;
      text[used] = '\0';
      if (n == 0 || used == sizeof text - 1)
        break;
      if (used == sizeof hooks - 1 && memcmp (text, hooks, used) == 0)
        {
          used = 0;
          if (nsbox_run_hooks (prog, "prestart", pid, err) < 0
              || nsbox_run_hooks (prog, "createRuntime", pid, err) < 0)
            return -1;
          if (nsbox_write_all (fd, "c", 1) < 0)
            {
              err->step = "handshake";
              return nsbox_fail (err, errno, "let the child go on after the hooks");
            }
          continue;
        }
      if (used == sizeof held_msg - 1 && memcmp (text, held_msg, used) == 0)
        {
          *held = true;
          return 0;
        }
    }
  if (used == 0)
    return 0;
  nsbox_error_parse (err, text, step_buf, step_size);
  return -1;
}

int
nsbox_child_request_hooks (int sync_fd, struct nsbox_error *err)
{
  char answer = 0;

  if (nsbox_write_all (sync_fd, "hooks\n", 6) < 0)
    return nsbox_fail (err, errno, "ask the launcher for the hooks");
  if (nsbox_read_exact (sync_fd, &answer, 1) < 0 || answer != 'c')
    _exit (1); /* the launcher failed and reports it; it kills us */
  return 0;
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
