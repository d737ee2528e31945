/* nsbox-shim: the per-box supervisor (native/PROTOCOL.md §2).
 *
 *   nsbox-shim --box-dir DIR --launcher PATH [--terminal] [--log-max BYTES] [--log-keep N]
 *              [--notify-helper PATH --notify-config FILE]
 *              [--views-helper PATH --views-config FILE]
 *
 * One process per box, started detached by the runtime with fd 3 = the launch program and
 * fd 4 = a ready pipe. It starts the box through the launcher, then stays as the box
 * init's parent (child subreaper): it owns the box's console (pipes or a pty) and its log,
 * and records how the box ended.
 *
 * Single-threaded: one epoll loop, SIGCHLD through a signalfd, static buffers, no
 * allocation after setup, statically linked, so that its idle footprint stays well under
 * 1 MiB. Nothing here knows about boxes beyond this file's contract: policy is in the
 * runtime, mount and namespace work in the launcher. The concerns live in their own files
 * (shim.h). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

struct shim_state S = {
  .ready_fd = -1,
  .result_fd = -1,
  .out_fd = -1,
  .in_fd = -1,
  .pty_keep = -1,
  .console_listen_fd = -1,
  .console_client_fd = -1,
  .signal_fd = -1,
  .epoll_fd = -1,
  .log_fd = -1,
  .notify_listen_fd = -1,
  .notify_ctl_fd = -1,
  .notify_inflight_fd = -1,
  .views_fuse_fd = -1,
  .views_kmsg_fd = -1,
  .views_page_fd = -1,
  .log_max = LOG_MAX_DEFAULT,
  .log_keep = LOG_KEEP_DEFAULT,
};

char shim_io_buf[IO_BUF];

int64_t
shim_now_ms (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
shim_epoll_add (int fd, uint32_t events, uint64_t tag)
{
  struct epoll_event ev = { .events = events, .data.u64 = tag };

  return epoll_ctl (S.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* ------------------------------------------------------------------------------------ */
/* Setup                                                                                  */
/* ------------------------------------------------------------------------------------ */

static int
parse_size (const char *text, uint64_t max, uint64_t *out)
{
  uint64_t v = 0, unit = 1;
  const char *s = text;

  if (*s < '0' || *s > '9')
    return -1;
  for (; *s >= '0' && *s <= '9'; s++)
    {
      if (v > (UINT64_MAX - 9) / 10)
        return -1;
      v = v * 10 + (*s - '0');
    }
  switch (*s)
    {
    case 'k': case 'K': unit = 1ULL << 10; s++; break;
    case 'm': case 'M': unit = 1ULL << 20; s++; break;
    case 'g': case 'G': unit = 1ULL << 30; s++; break;
    default: break;
    }
  if (*s != '\0' || v > max / unit)
    return -1;
  *out = v * unit;
  return 0;
}

static int
parse_args (int argc, char **argv, struct nsbox_error *err)
{
  const char *launcher = NULL;

  for (int i = 1; i < argc; i++)
    {
      static const char *const with_value[] = { "--box-dir", "--launcher", "--log-max",
                                                "--log-keep", "--notify-helper",
                                                "--notify-config", "--views-helper",
                                                "--views-config" };
      const char *arg = argv[i], *value = NULL;
      int opt = -1;
      uint64_t n;

      if (strcmp (arg, "--terminal") == 0)
        {
          S.terminal = true;
          continue;
        }
      for (int k = 0; k < 8 && opt < 0; k++)
        {
          size_t len = strlen (with_value[k]);
          if (strncmp (arg, with_value[k], len) != 0)
            continue;
          if (arg[len] == '=')
            value = arg + len + 1, opt = k;
          else if (arg[len] == '\0' && i + 1 < argc)
            value = argv[++i], opt = k;
          else if (arg[len] == '\0')
            return nsbox_fail (err, EINVAL, "option %s needs a value", arg);
        }
      switch (opt)
        {
        case 0:
          S.box_dir = value;
          break;
        case 1:
          launcher = value;
          break;
        case 2:
          if (parse_size (value, UINT64_MAX, &n) < 0)
            return nsbox_fail (err, EINVAL, "--log-max: not a size: '%s'", value);
          S.log_max = n;
          break;
        case 3:
          if (parse_size (value, LOG_KEEP_MAX, &n) < 0)
            return nsbox_fail (err, EINVAL, "--log-keep: not a count (0-%d): '%s'", LOG_KEEP_MAX,
                              value);
          S.log_keep = n;
          break;
        case 4:
          /* Resolved now, as the launcher is: we move into the box dir. */
          if (!realpath (value, S.notify_helper))
            return nsbox_fail (err, errno, "--notify-helper '%s'", value);
          break;
        case 5:
          S.notify_config = value;
          break;
        case 6:
          if (!realpath (value, S.views_helper))
            return nsbox_fail (err, errno, "--views-helper '%s'", value);
          break;
        case 7:
          S.views_config = value;
          break;
        default:
          return nsbox_fail (err, EINVAL, "unknown argument '%s'", arg);
        }
    }
  if (!S.box_dir || !launcher)
    return nsbox_fail (err, EINVAL,
                      "usage: nsbox-shim --box-dir DIR --launcher PATH [--terminal] "
                      "[--log-max BYTES] [--log-keep N] "
                      "[--notify-helper PATH --notify-config FILE] "
                      "[--views-helper PATH --views-config FILE]");
  if ((S.notify_helper[0] != '\0') != (S.notify_config != NULL))
    return nsbox_fail (err, EINVAL, "--notify-helper and --notify-config go together");
  if ((S.views_helper[0] != '\0') != (S.views_config != NULL))
    return nsbox_fail (err, EINVAL, "--views-helper and --views-config go together");
  /* Resolved now: the launcher is executed from `/`, and we move into the box dir. */
  if (!realpath (launcher, S.launcher))
    return nsbox_fail (err, errno, "launcher '%s'", launcher);
  return 0;
}

static int
signals_setup (struct nsbox_error *err)
{
  static const int ignored[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
  struct sigaction sa = { .sa_handler = SIG_IGN };
  sigset_t mask;

  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
    sigaction (ignored[i], &sa, NULL);
  /* An inherited SIG_IGN on SIGCHLD would make the kernel reap our children for us. */
  sa.sa_handler = SIG_DFL;
  sigaction (SIGCHLD, &sa, NULL);

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  /* SIGUSR1: the runtime changed the notify helper's config (nsbox set of a value it answers). */
  sigaddset (&mask, SIGUSR1);
  if (sigprocmask (SIG_BLOCK, &mask, NULL) < 0)
    return nsbox_fail (err, errno, "sigprocmask");
  S.signal_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (S.signal_fd < 0)
    return nsbox_fail (err, errno, "signalfd");
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return nsbox_fail (err, errno, "prctl PR_SET_CHILD_SUBREAPER");
  return 0;
}

static int
set_nonblock (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  return flags < 0 ? -1 : fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

/* A pty (the slave is the box's stdin, stdout and stderr; the launcher makes it init's
 * controlling terminal), or a stdin pipe we hold the write end of and one output pipe
 * shared by stdout and stderr, so that the log keeps their order. */
static int
stdio_setup (struct shim_stdio *io, struct nsbox_error *err)
{
  if (S.terminal)
    {
      int unlock = 0;
      struct winsize ws = { .ws_row = 24, .ws_col = 80 };
      int slave;

      S.out_fd = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
      if (S.out_fd < 0)
        return nsbox_fail (err, errno, "open '/dev/ptmx'");
      S.in_fd = S.out_fd;
      if (ioctl (S.out_fd, TIOCSPTLCK, &unlock) < 0)
        return nsbox_fail (err, errno, "unlock pty");
      ioctl (S.out_fd, TIOCSWINSZ, &ws);
      slave = ioctl (S.out_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (slave < 0)
        return nsbox_fail (err, errno, "open pty slave");
      io->in = io->out = io->err = slave;
      S.pty_keep = fcntl (slave, F_DUPFD_CLOEXEC, 3);
      if (S.pty_keep < 0)
        return nsbox_fail (err, errno, "dup pty slave");
      return 0;
    }
  else
    {
      int in[2], out[2];

      if (pipe2 (in, O_CLOEXEC) < 0)
        return nsbox_fail (err, errno, "pipe");
      io->in = in[0];
      S.in_fd = in[1];
      if (pipe2 (out, O_CLOEXEC) < 0)
        return nsbox_fail (err, errno, "pipe");
      S.out_fd = out[0];
      io->out = io->err = out[1];
      if (set_nonblock (S.in_fd) < 0 || set_nonblock (S.out_fd) < 0)
        return nsbox_fail (err, errno, "fcntl O_NONBLOCK");
      return 0;
    }
}

static int
setup (int argc, char **argv, struct nsbox_error *err)
{
  struct shim_stdio io = { -1, -1, -1 };
  int ret;

  S.self = getpid ();
  if (fcntl (3, F_GETFD) < 0)
    return nsbox_fail (err, EBADF, "fd 3 (the launch program) is not open");
  if (parse_args (argc, argv, err) < 0)
    return -1;
  if (signals_setup (err) < 0)
    return -1;
  if (chdir (S.box_dir) < 0)
    return nsbox_fail (err, errno, "chdir '%s'", S.box_dir);
  if (shim_write_pid_file ("shim.pid", S.self, err) < 0)
    return -1;
  if (shim_log_open (err) < 0)
    return -1;
  S.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (S.epoll_fd < 0)
    return nsbox_fail (err, errno, "epoll_create1");
  if (shim_epoll_add (S.signal_fd, EPOLLIN, TAG_SIGNAL) < 0)
    return nsbox_fail (err, errno, "epoll_ctl");
  /* Listening before the launcher runs: it connects before it clones. */
  if (shim_notify_setup (err) < 0)
    return -1;
  if (shim_views_setup (err) < 0)
    return -1;
  ret = stdio_setup (&io, err);
  if (ret == 0 && shim_epoll_add (S.out_fd, EPOLLIN, TAG_OUTPUT) < 0)
    ret = nsbox_fail (err, errno, "epoll_ctl");
  if (ret == 0)
    ret = shim_console_setup (err);
  if (ret == 0)
    ret = shim_launcher_spawn (&io, err);
  if (io.err != io.out)
    nsbox_close (&io.err);
  if (io.in != io.out)
    nsbox_close (&io.in);
  nsbox_close (&io.out);
  return ret;
}

/* ------------------------------------------------------------------------------------ */
/* Main loop                                                                              */
/* ------------------------------------------------------------------------------------ */

static int
finish_exited (void)
{
  struct nsbox_error err = { 0 };
  int rc = 0;

  nsbox_close (&S.log_fd);
  shim_notify_stop ();
  shim_views_stop ();
  shim_console_stop ();
  if (shim_write_exit (&err) < 0)
    {
      dprintf (2, "nsbox-shim: %s\n", err.msg);
      rc = 1;
    }
  shim_reap ();
  return rc;
}

static void
dispatch (uint64_t tag, uint32_t events)
{
  switch (tag)
    {
    case TAG_SIGNAL:
      {
        struct signalfd_siginfo si;
        bool reload = false;
        while (read (S.signal_fd, &si, sizeof si) == sizeof si)
          reload |= si.ssi_signo == SIGUSR1;
        shim_reap ();
        if (reload)
          shim_notify_reload ();
        break;
      }
    case TAG_RESULT:
      shim_result_read ();
      break;
    case TAG_OUTPUT:
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        shim_output_read ();
      break;
    case TAG_CONSOLE_ACCEPT:
      shim_console_accept ();
      break;
    case TAG_CONSOLE_CLIENT:
      shim_console_input (events);
      break;
    default:
      shim_notify_event (tag, events);
      break;
    }
}

/* The nearest deadline (the state's, the helper's respawn), as an epoll_wait timeout. */
static int
next_timeout (int64_t now)
{
  int64_t at = S.deadline;

  if (S.notify_respawn_at != 0 && (at == 0 || S.notify_respawn_at < at))
    at = S.notify_respawn_at;
  if (S.views_respawn_at != 0 && (at == 0 || S.views_respawn_at < at))
    at = S.views_respawn_at;
  if (at == 0)
    return -1;
  return at <= now ? 0 : (int) (at - now);
}

static int
loop (void)
{
  static struct epoll_event events[MAX_EVENTS];

  for (;;)
    {
      int64_t now = shim_now_ms (CLOCK_MONOTONIC);
      int n;

      if (S.state == BOX_EXITED && (S.out_fd < 0 || now >= S.deadline))
        return finish_exited ();
      if (S.state == BOX_FAILED)
        {
          if (S.launcher_reaped && !S.children_left)
            return 1;
          if (S.launcher_reaped)
            shim_kill_children ();
          if (now >= S.deadline)
            {
              if (S.last_round)
                return 1;
              /* The launcher did not clean up in time: do it for it, then give up. */
              if (!S.launcher_reaped)
                kill (S.launcher_pid, SIGKILL);
              shim_kill_children ();
              S.last_round = true;
              S.deadline = now + DRAIN_MS;
            }
        }

      shim_notify_tick (now);
      shim_views_tick (now);
      n = epoll_wait (S.epoll_fd, events, MAX_EVENTS, next_timeout (now));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          dprintf (2, "nsbox-shim: epoll_wait: %s\n", strerror (errno));
          return 1;
        }
      for (int i = 0; i < n; i++)
        dispatch (events[i].data.u64, events[i].events);
    }
}

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };

  /* fd 0-2 are /dev/null, 3 the program, 4 the ready pipe; nothing else is ours. */
  close_range (5, ~0U, 0);
  for (int fd = 0; fd < 3; fd++)
    if (fcntl (fd, F_GETFD) < 0)
      {
        int null = open ("/dev/null", O_RDWR);
        if (null >= 0 && null != fd)
          {
            dup2 (null, fd);
            close (null);
          }
      }
  S.ready_fd = fcntl (4, F_DUPFD_CLOEXEC, 5);
  if (S.ready_fd < 0)
    dprintf (2, "nsbox-shim: fd 4 (the ready pipe) is not open\n");
  close (4);

  if (setup (argc, argv, &err) < 0)
    {
      if (S.ready_fd < 0)
        dprintf (2, "nsbox-shim: %s\n", err.msg);
      shim_ready_error ("shim", err.errnum, err.msg);
      if (S.launcher_pid > 0)
        {
          kill (S.launcher_pid, SIGKILL);
          waitpid (S.launcher_pid, NULL, 0);
        }
      return 1;
    }
  return loop ();
}
