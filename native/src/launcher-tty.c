/* Join mode: the pty of the joined process and the launcher's watch over it.
 *
 * The pty comes from the box's own devpts (opened after setns, checked, without following
 * the box's symlinks), so `tty` inside the box names a device the box has. The launcher stays the parent: it forwards the signals it gets to the
 * child, relays the pty both ways when there is one, and returns the child's status. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>

/* Opens the pty in the devpts instance the launcher sees: after setns into the box's
 * mount namespace that is the box's own, so the joined process's `tty` names a
 * /dev/pts/N that exists in the box. The path is the box's to control: no symlink is
 * followed, the file must be a devpts ptmx, and the peer comes from the master itself
 * (TIOCGPTPEER), never from a path lookup. */
/* A pty from the host's /dev/ptmx, opened before setns: the fallback for a box without a
 * devpts of its own. */
int
nsbox_tty_open_host (struct nsbox_tty *tty, struct nsbox_error *err)
{
  struct winsize ws;

  if (openpty (&tty->master, &tty->slave, NULL, NULL, NULL) < 0)
    {
      err->step = "tty";
      return nsbox_fail (err, errno, "openpty");
    }
  fcntl (tty->master, F_SETFD, FD_CLOEXEC);
  fcntl (tty->slave, F_SETFD, FD_CLOEXEC);
  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (tty->master, TIOCSWINSZ, &ws);
  return 0;
}

int
nsbox_tty_open (struct nsbox_tty *tty, struct nsbox_error *err)
{
  struct open_how how = { .flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
                          .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  struct winsize ws;
  struct statfs sfs;
  int unlock = 0;

  err->step = "tty";
  tty->master = (int) syscall (SYS_openat2, AT_FDCWD, "/dev/pts/ptmx", &how, sizeof how);
  if (tty->master < 0)
    return nsbox_fail (err, errno, "open /dev/pts/ptmx (the box has no devpts?)");
  if (fstatfs (tty->master, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
    return nsbox_fail (err, EPERM, "/dev/pts/ptmx is not on a devpts filesystem");
  if (ioctl (tty->master, TIOCSPTLCK, &unlock) < 0)
    return nsbox_fail (err, errno, "unlock the pty");
  tty->slave = ioctl (tty->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty->slave < 0)
    return nsbox_fail (err, errno, "open the pty's peer");
  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (tty->master, TIOCSWINSZ, &ws);
  err->step = NULL;
  return 0;
}

int
nsbox_tty_child (struct nsbox_tty *tty, struct nsbox_error *err)
{
  err->step = "tty";
  close (tty->master);
  if (setsid () < 0)
    return nsbox_fail (err, errno, "setsid");
  if (ioctl (tty->slave, TIOCSCTTY, 0) < 0)
    return nsbox_fail (err, errno, "make the pty the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (tty->slave, fd) < 0)
      return nsbox_fail (err, errno, "dup the pty to fd %d", fd);
  if (tty->slave > 2)
    close (tty->slave);
  err->step = NULL;
  return 0;
}

/* Puts the caller's terminal in raw mode for the relay; restored by restore_terminal. */
struct terminal
{
  bool raw;
  struct termios saved;
};

static void
make_raw (struct terminal *term)
{
  struct termios raw;

  term->raw = false;
  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &term->saved) < 0)
    return;
  raw = term->saved;
  cfmakeraw (&raw);
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
    term->raw = true;
}

static void
restore_terminal (struct terminal *term)
{
  if (term->raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &term->saved);
}

/* Copies what is available from `from` to `to`; returns 0 on EOF/EIO (the other side is
 * gone), 1 otherwise. */
static int
pump (int from, int to)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 1;
  if (n <= 0)
    return 0;
  (void) nsbox_write_all (to, buf, n);
  return 1;
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT };

int
nsbox_supervise (pid_t child, int pidfd, struct nsbox_tty *tty, int *status,
                 struct nsbox_error *err)
{
  struct terminal term = { .raw = false };
  cleanup_fd int sigfd = -1;
  bool relay = tty && tty->master >= 0;
  bool stdin_open = relay, master_open = relay;
  sigset_t mask;

  sigemptyset (&mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaddset (&mask, forwarded[i]);
  sigaddset (&mask, SIGWINCH);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sigfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0)
    {
      err->step = "supervise";
      return nsbox_fail (err, errno, "signalfd");
    }
  if (relay)
    {
      make_raw (&term);
      fcntl (tty->master, F_SETFL, fcntl (tty->master, F_GETFL) | O_NONBLOCK);
    }

  for (;;)
    {
      struct pollfd fds[4] = {
        { .fd = sigfd, .events = POLLIN },
        { .fd = pidfd, .events = POLLIN },
        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
        { .fd = master_open ? tty->master : -1, .events = POLLIN },
      };

      if (poll (fds, 4, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read (sigfd, &si, sizeof si) == sizeof si)
            {
              struct winsize ws;
              if (si.ssi_signo == SIGWINCH)
                {
                  if (relay && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                    ioctl (tty->master, TIOCSWINSZ, &ws);
                }
              else
                pidfd_send_signal (pidfd, (int) si.ssi_signo, NULL, 0);
            }
        }
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR) && !pump (STDIN_FILENO, tty->master))
        {
          /* The caller closed its input: end of file for the process too (VEOF at the
           * start of a line, in the pty's canonical mode). */
          static const char eof = 4;
          stdin_open = false;
          if (!term.raw)
            (void) nsbox_write_all (tty->master, &eof, 1);
        }
      if (fds[3].revents & (POLLIN | POLLHUP | POLLERR) && !pump (tty->master, STDOUT_FILENO))
        master_open = false;
      if (fds[1].revents & POLLIN)
        {
          /* Exited: what it wrote before is still in the pty. */
          while (master_open && pump (tty->master, STDOUT_FILENO))
            {
              struct pollfd p = { .fd = tty->master, .events = POLLIN };
              if (poll (&p, 1, 0) <= 0)
                break;
            }
          break;
        }
    }
  restore_terminal (&term);
  while (waitpid (child, status, 0) < 0)
    if (errno != EINTR)
      {
        err->step = "supervise";
        return nsbox_fail (err, errno, "waitpid %d", child);
      }
  return 0;
}
