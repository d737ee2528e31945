/* Join mode: the stdio of the joined process and the launcher's watch over it.
 *
 * With `tty`, the pty comes from the box's own devpts (opened after setns, checked, without
 * following the box's symlinks), so `tty` inside the box names a device the box has.
 * Without it, no fd of the caller's that is a terminal reaches the box: that terminal is
 * the operator's, and a box process holding it could type into the operator's shell
 * (TIOCSTI) or read keystrokes after exec returned. Such an fd is replaced by a pipe the
 * launcher relays (other fds, pipes and files of a daemon or an engine, pass as they are).
 * The launcher stays the parent: it forwards the signals it gets to the child, relays the
 * pty or pipes, and returns the child's status. */
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
 * gone) or when `to` refuses the data, 1 otherwise. */
static int
pump (int from, int to)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 1;
  if (n <= 0)
    return 0;
  return nsbox_write_all (to, buf, n) < 0 ? 0 : 1;
}

int
nsbox_relay_open (struct nsbox_relay *relay, struct nsbox_error *err)
{
  for (int fd = 0; fd < 3; fd++)
    relay->child[fd] = relay->host[fd] = -1;
  for (int fd = 0; fd < 3; fd++)
    {
      int p[2];

      if (!isatty (fd))
        continue;
      if (pipe2 (p, O_CLOEXEC) < 0)
        {
          err->step = "stdio";
          return nsbox_fail (err, errno, "pipe for fd %d", fd);
        }
      relay->child[fd] = fd == 0 ? p[0] : p[1];
      relay->host[fd] = fd == 0 ? p[1] : p[0];
    }
  return 0;
}

int
nsbox_relay_child (struct nsbox_relay *relay, struct nsbox_error *err)
{
  for (int fd = 0; fd < 3; fd++)
    {
      if (relay->host[fd] >= 0)
        close (relay->host[fd]);
      /* dup2 clears close-on-exec on the copy; the pipe end itself still has it. */
      if (relay->child[fd] >= 0 && dup2 (relay->child[fd], fd) < 0)
        {
          err->step = "stdio";
          return nsbox_fail (err, errno, "dup the relay pipe to fd %d", fd);
        }
    }
  return 0;
}

void
nsbox_relay_close_child_ends (struct nsbox_relay *relay)
{
  for (int fd = 0; fd < 3; fd++)
    if (relay->child[fd] >= 0)
      {
        close (relay->child[fd]);
        relay->child[fd] = -1;
      }
}

void
nsbox_relay_release (struct nsbox_relay *relay)
{
  nsbox_relay_close_child_ends (relay);
  for (int fd = 0; fd < 3; fd++)
    if (relay->host[fd] >= 0)
      {
        close (relay->host[fd]);
        relay->host[fd] = -1;
      }
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT };

/* One direction of a copy the launcher makes while its child runs. */
struct link
{
  int from, to;
  bool open;
  bool input; /* from our stdin: its end is the child's end of file */
};

int
nsbox_supervise (pid_t child, int pidfd, struct nsbox_tty *tty, struct nsbox_relay *relay,
                 int *status, struct nsbox_error *err)
{
  struct terminal term = { .raw = false };
  cleanup_fd int sigfd = -1;
  bool pty = tty && tty->master >= 0;
  struct link links[3];
  size_t n_links = 0;
  sigset_t mask;

  if (pty)
    {
      links[n_links++] = (struct link){ STDIN_FILENO, tty->master, true, true };
      links[n_links++] = (struct link){ tty->master, STDOUT_FILENO, true, false };
    }
  else if (relay)
    {
      if (relay->host[0] >= 0)
        {
          links[n_links++] = (struct link){ STDIN_FILENO, relay->host[0], true, true };
          /* A child that does not read its stdin must not block the relay of its output. */
          fcntl (relay->host[0], F_SETFL, fcntl (relay->host[0], F_GETFL) | O_NONBLOCK);
          /* Run in the background, we get EIO (end of input) instead of being stopped. */
          signal (SIGTTIN, SIG_IGN);
        }
      for (int fd = 1; fd < 3; fd++)
        if (relay->host[fd] >= 0)
          links[n_links++] = (struct link){ relay->host[fd], fd, true, false };
    }

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
  if (pty)
    {
      make_raw (&term);
      fcntl (tty->master, F_SETFL, fcntl (tty->master, F_GETFL) | O_NONBLOCK);
    }
  for (size_t i = 0; i < n_links; i++)
    if (!links[i].input)
      fcntl (links[i].from, F_SETFL, fcntl (links[i].from, F_GETFL) | O_NONBLOCK);

  for (;;)
    {
      struct pollfd fds[2 + 3] = {
        { .fd = sigfd, .events = POLLIN },
        { .fd = pidfd, .events = POLLIN },
      };

      for (size_t i = 0; i < n_links; i++)
        fds[2 + i] = (struct pollfd){ .fd = links[i].open ? links[i].from : -1, .events = POLLIN };
      if (poll (fds, 2 + n_links, -1) < 0)
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
                  if (pty && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                    ioctl (tty->master, TIOCSWINSZ, &ws);
                }
              else
                pidfd_send_signal (pidfd, (int) si.ssi_signo, NULL, 0);
            }
        }
      for (size_t i = 0; i < n_links; i++)
        {
          if (!(fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) || pump (links[i].from, links[i].to))
            continue;
          links[i].open = false;
          if (!links[i].input)
            continue;
          /* The caller closed its input: end of file for the process too. */
          if (pty)
            {
              /* VEOF at the start of a line, in the pty's canonical mode. */
              static const char eof = 4;
              if (!term.raw)
                (void) nsbox_write_all (tty->master, &eof, 1);
            }
          else
            {
              close (relay->host[0]);
              relay->host[0] = -1;
            }
        }
      if (fds[1].revents & POLLIN)
        {
          /* Exited: what it wrote before is still in the pty or the pipes. Only what is
           * there now: a process it left behind may hold the pipes open for ever. */
          for (size_t i = 0; i < n_links; i++)
            while (!links[i].input && links[i].open && pump (links[i].from, links[i].to))
              {
                struct pollfd p = { .fd = links[i].from, .events = POLLIN };
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
