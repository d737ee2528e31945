/* nsbox-launcher: runs a launch program (native/PROTOCOL.md §1 and §3).
 *
 * fd 3 carries the program, fd 4 gets one result line. The launcher holds no policy: it
 * runs the ops it is given, in their phase, and reports the first failure as
 * `error STEP ERRNO MESSAGE`.
 *
 * create: host ops → clone3 into the new namespaces → the parent writes the id maps and
 *         limits, then lets the child go → child ops → exec. The parent learns that exec
 *         worked from a CLOEXEC socket (EOF without data), writes `ok PID` and exits.
 * join:   host ops → setns into the box with one pidfd call → fork (to really be in the
 *         pid namespace) → the child sets its identity and execs; the launcher waits and
 *         exits with the child's status. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

/* Whether the caller gave us a result fd; if not, errors go to stderr as well. */
static bool result_fd_given;

static void
write_result (const char *line)
{
  if (nsbox_write_all (NSBOX_RESULT_FD, line, strlen (line)) < 0 || !result_fd_given)
    (void) nsbox_write_all (STDERR_FILENO, line, strlen (line));
  close (NSBOX_RESULT_FD);
}

static void
report_error (const struct nsbox_error *err)
{
  char line[sizeof err->msg + 64];
  size_t len;

  memcpy (line, "error ", 6);
  nsbox_error_format (err, line + 6, sizeof line - 7);
  len = strlen (line);
  line[len] = '\n';
  line[len + 1] = '\0';
  write_result (line);
}

/* fds 0-2 and 4 must exist: otherwise a socket or file opened later would take their
 * number and be mistaken for stdio or the result fd. */
static void
reserve_fds (void)
{
  for (int fd = 0; fd <= NSBOX_RESULT_FD; fd++)
    {
      if (fd == NSBOX_PROGRAM_FD || fcntl (fd, F_GETFD) >= 0)
        continue;
      int null = open ("/dev/null", O_RDWR);
      if (null >= 0 && null != fd)
        {
          dup2 (null, fd);
          close (null);
        }
    }
}

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };
  struct nsbox_program prog = { 0 };
  char step_buf[64];
  char line[64];

  (void) argc;
  result_fd_given = fcntl (NSBOX_RESULT_FD, F_GETFD) >= 0;
  /* A reader that went away must not kill us before the child is cleaned up. */
  signal (SIGPIPE, SIG_IGN);

  if (nsbox_ensure_sealed_self (argv, &err) < 0)
    {
      err.step = "reexec";
      report_error (&err);
      return 1;
    }
  /* After the re-exec, so that the sealed copy sees the caller's fds as they were. */
  reserve_fds ();
  /* No ptrace, no /proc/PID/{mem,exe,fd} access for the box until exec. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    {
      err.step = "reexec";
      nsbox_fail (&err, errno, "PR_SET_DUMPABLE");
      report_error (&err);
      return 1;
    }
  clearenv ();
  /* The host root's supplementary groups must not follow us into the box. */
  if (getuid () == 0)
    setgroups (0, NULL);

  if (nsbox_program_read (NSBOX_PROGRAM_FD, &prog, &err) < 0)
    {
      close (NSBOX_PROGRAM_FD);
      report_error (&err);
      return 1;
    }
  close (NSBOX_PROGRAM_FD);
  /* Nothing but fds 0-4 is ours, and the box's preserved fds (`preserve_fds N`: 5 … 4+N):
   * close the rest before any namespace is entered (they would otherwise survive into the
   * box's namespaces until the final close_range). */
  close_range (NSBOX_PRESERVED_BASE + nsbox_preserved_fds (&prog), ~0U, 0);

  if (nsbox_program_mode (&prog) == NSBOX_IN_JOIN)
    {
      int exit_code = 1;
      if (nsbox_run_join (&prog, &exit_code, &err, step_buf, sizeof step_buf) < 0)
        {
          report_error (&err);
          exit_code = 1;
        }
      nsbox_program_free (&prog);
      return exit_code;
    }

  pid_t pid = 0;
  if (nsbox_run_create (&prog, &pid, &err, step_buf, sizeof step_buf) < 0)
    {
      report_error (&err);
      nsbox_program_free (&prog);
      return 1;
    }
  snprintf (line, sizeof line, "ok %d\n", pid);
  write_result (line);
  nsbox_program_free (&prog);
  return 0;
}
