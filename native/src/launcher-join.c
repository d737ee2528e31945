/* Join mode (PROTOCOL.md §3): run a process in a running box.
 *
 * host ops (cgroup.procs, pidfd_open) → limits on ourselves while still outside the box's
 * user namespace → one setns(pidfd, flags) for every namespace → the pty, from the box's
 * devpts → fork, since a pid namespace is only entered by children (setns into the
 * mount namespace already made the box's root our root and cwd) → the child sets its
 * identity and execs (launcher-final.c); the launcher supervises it (launcher-tty.c)
 * and exits with its status, 128+N for a signal. */
#include "launcher.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int
join_child_setup (const struct nsbox_program *prog, struct nsbox_final *f, struct nsbox_tty *tty,
                  struct nsbox_relay *relay, bool joined_userns, struct nsbox_error *err)
{
  /* Our pid as the launcher sees it (for the seccomp agent), sent right after the fork. */
  if (nsbox_read_exact (f->sync_fd, &f->host_pid, sizeof f->host_pid) < 0)
    _exit (1);
  /* A session of its own, always: the caller's session and controlling terminal (an
   * operator's shell) are not the box's. With a pty, it becomes that session's terminal. */
  if (tty->master >= 0)
    {
      if (nsbox_tty_child (tty, err) < 0)
        return -1;
    }
  else if (setsid () < 0)
    {
      err->step = "stdio";
      return nsbox_fail (err, errno, "setsid");
    }
  else if (nsbox_relay_child (relay, err) < 0)
    return -1;
  /* setns into a user namespace keeps our host uid (unmapped there): start from the
   * box's root, then `user` applies. */
  if (joined_userns && nsbox_become_ns_root (err) < 0)
    {
      err->step = "join.pid";
      return -1;
    }
  return nsbox_final_exec (prog, f, err);
}

static __attribute__ ((noreturn)) void
join_child (const struct nsbox_program *prog, struct nsbox_final *f, struct nsbox_tty *tty,
            struct nsbox_relay *relay, bool joined_userns)
{
  struct nsbox_error err = { 0 };

  close (NSBOX_RESULT_FD);
  join_child_setup (prog, f, tty, relay, joined_userns, &err);
  nsbox_child_report (f->sync_fd, &err);
  _exit (1);
}

static bool
joins_userns (const struct nsbox_program *prog, const struct nsbox_host *host)
{
  if (host->clone_flags & CLONE_NEWUSER)
    return true;
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "join.ns") == 0 && strcmp (prog->ops[i].args[0], "user") == 0)
      return true;
  return false;
}

static void
release_tty (struct nsbox_tty *tty)
{
  if (tty->master >= 0)
    close (tty->master);
  if (tty->slave >= 0)
    close (tty->slave);
}

int
nsbox_run_join (const struct nsbox_program *prog, int *exit_code, struct nsbox_error *err,
                char *step_buf, size_t step_size)
{
  __attribute__ ((cleanup (nsbox_host_release))) struct nsbox_host host = NSBOX_HOST_INIT;
  __attribute__ ((cleanup (release_tty))) struct nsbox_tty tty = { .master = -1, .slave = -1 };
  __attribute__ ((cleanup (release_tty))) struct nsbox_tty host_tty
      = { .master = -1, .slave = -1 };
  __attribute__ ((cleanup (nsbox_relay_release))) struct nsbox_relay relay
      = { .child = { -1, -1, -1 }, .host = { -1, -1, -1 } };
  bool want_tty = nsbox_program_find (prog, "tty") != NULL;
  cleanup_fd int parent_end = -1;
  cleanup_fd int pidfd = -1;
  int sv[2], status;
  pid_t pid;

  if (nsbox_host_ops (prog, &host, err) < 0)
    return -1;
  /* Limits from outside the box's user namespace (see nsbox_parent_limits): on the
   * launcher itself, inherited by the fork. */
  if (nsbox_parent_limits (prog, 0, err) < 0)
    return -1;
  /* A host pty before setns, in case the box has no devpts of its own... */
  if (want_tty && nsbox_tty_open_host (&host_tty, err) < 0)
    return -1;
  if (nsbox_host_join (prog, &host, err) < 0 || nsbox_undumpable (err) < 0)
    return -1;
  /* ...but the box's own pty when it has one, so that `tty` in the box names a device the
   * box can see (see nsbox_tty_open). */
  if (want_tty)
    {
      struct nsbox_error box_err = { 0 };
      if (nsbox_tty_open (&tty, &box_err) < 0)
        {
          release_tty (&tty);
          tty = host_tty;
          host_tty = (struct nsbox_tty){ .master = -1, .slave = -1 };
        }
    }
  else if (nsbox_relay_open (&relay, err) < 0)
    return -1;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      err->step = "handshake";
      return nsbox_fail (err, errno, "socketpair");
    }
  parent_end = sv[0];
  pid = fork ();
  if (pid < 0)
    {
      close (sv[1]);
      err->step = "clone";
      return nsbox_fail (err, errno, "fork into the box");
    }
  if (pid == 0)
    {
      struct nsbox_final f = { .sync_fd = sv[1], .hold_fd = -1, .listener_fd = host.listener_fd };
      close (sv[0]);
      join_child (prog, &f, &tty, &relay, joins_userns (prog, &host));
    }
  close (sv[1]);
  nsbox_close (&host.listener_fd);
  /* Preserved fds are the child's; the supervisor keeps none of them open. */
  if (nsbox_preserved_fds (prog) > 0)
    close_range (NSBOX_PRESERVED_BASE, NSBOX_PRESERVED_BASE + nsbox_preserved_fds (prog) - 1, 0);
  if (nsbox_write_all (parent_end, &pid, sizeof pid) < 0)
    {
      err->step = "handshake";
      nsbox_fail (err, errno, "send the child its pid");
      return nsbox_kill_and_reap (pid, -1);
    }
  pidfd = pidfd_open (pid, 0);
  if (pidfd < 0)
    {
      err->step = "clone";
      nsbox_fail (err, errno, "pidfd_open %d", pid);
      return nsbox_kill_and_reap (pid, -1);
    }
  if (nsbox_read_child_report (parent_end, err, step_buf, step_size) < 0)
    return nsbox_kill_and_reap (pid, pidfd);
  /* exec worked: EOF on the result fd tells the caller, who then gets the exit code. */
  close (NSBOX_RESULT_FD);
  close (tty.slave);
  tty.slave = -1;
  nsbox_relay_close_child_ends (&relay);
  if (nsbox_supervise (pid, pidfd, &tty, &relay, &status, err) < 0)
    return -1;
  *exit_code = WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
  return 0;
}
