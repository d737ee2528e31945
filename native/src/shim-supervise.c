/* Supervision: the shim forks the launcher, relays its one result line, then stays as the
 * parent of the box's init (child subreaper) and reaps everything that ends: the launcher,
 * the init, orphans of the box re-parented to it. After a failed start it kills whatever
 * the launcher left behind. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Parses an unsigned decimal number that ends at a space or at the end of the text;
 * advances *p past it. */
static bool
parse_uint (const char **p, uint64_t max, uint64_t *out)
{
  const char *s = *p;
  uint64_t v = 0;

  if (*s < '0' || *s > '9')
    return false;
  for (; *s >= '0' && *s <= '9'; s++)
    {
      v = v * 10 + (*s - '0');
      if (v > max)
        return false;
    }
  if (*s != '\0' && *s != ' ')
    return false;
  *p = s;
  *out = v;
  return true;
}

/* In the child: fd 0-2 = the box's stdio, 3 = the program, 4 = the result pipe, default
 * signal handling, its own session, cwd `/`; then the launcher. */
static void __attribute__ ((noreturn))
launcher_exec (const struct shim_stdio *io, int result_w)
{
  static const int reset[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
  const int want[5] = { io->in, io->out, io->err, 3, result_w };
  int tmp[5];
  int report_fd = result_w;
  const char *what = "setup";
  char *argv[] = { S.launcher, NULL };
  struct sigaction sa = { .sa_handler = SIG_DFL };
  sigset_t none;

  for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
    sigaction (reset[i], &sa, NULL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (setsid () < 0)
    {
      what = "setsid";
      goto fail;
    }
  /* Out of the way first, so that no target fd is overwritten before it was moved. */
  for (int i = 0; i < 5; i++)
    if ((tmp[i] = fcntl (want[i], F_DUPFD_CLOEXEC, 5)) < 0)
      {
        what = "dup";
        goto fail;
      }
  for (int i = 0; i < 5; i++)
    if (dup2 (tmp[i], i) < 0) /* dup2 clears FD_CLOEXEC */
      {
        what = "dup2";
        goto fail;
      }
  report_fd = 4;
  close_range (5, ~0U, 0);
  if (chdir ("/") < 0)
    {
      what = "chdir /";
      goto fail;
    }
  execve (S.launcher, argv, environ);
  what = "exec";

fail:
  {
    int e = errno;
    char line[PATH_MAX + 160];
    struct nsbox_buf b = NSBOX_BUF_FIXED (line);

    b.cap--; /* room for the newline */
    nsbox_buf_str (&b, "error shim ");
    nsbox_buf_int (&b, e);
    nsbox_buf_str (&b, " ");
    nsbox_buf_str (&b, what);
    nsbox_buf_str (&b, " '");
    nsbox_buf_str (&b, S.launcher);
    nsbox_buf_str (&b, "': ");
    nsbox_buf_str (&b, strerror (e));
    b.cap++;
    nsbox_buf_str (&b, "\n");
    nsbox_write_all (report_fd, line, b.len);
    _exit (127);
  }
}

static void
stdio_close (struct shim_stdio *io)
{
  if (io->err != io->out)
    nsbox_close (&io->err);
  if (io->in != io->out)
    nsbox_close (&io->in);
  nsbox_close (&io->out);
  io->in = io->err = -1;
}

int
shim_launcher_spawn (struct shim_stdio *io, struct nsbox_error *err)
{
  int result[2];
  pid_t pid;

  if (pipe2 (result, O_CLOEXEC) < 0)
    return nsbox_fail (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (result[0]);
      close (result[1]);
      return nsbox_fail (err, e, "fork");
    }
  if (pid == 0)
    launcher_exec (io, result[1]);

  S.launcher_pid = pid;
  S.result_fd = result[0];
  close (result[1]);
  stdio_close (io);
  close (3); /* the program is the launcher's now */
  fcntl (S.result_fd, F_SETFL, fcntl (S.result_fd, F_GETFL) | O_NONBLOCK);
  if (shim_epoll_add (S.result_fd, EPOLLIN, TAG_RESULT) < 0)
    return nsbox_fail (err, errno, "epoll_ctl");
  return 0;
}

static void
start_failed (const char *step, int errnum, const char *message)
{
  S.state = BOX_FAILED;
  shim_notify_stop ();
  shim_views_stop ();
  S.deadline = shim_now_ms (CLOCK_MONOTONIC) + FAIL_WAIT_MS;
  shim_ready_error (step, errnum, message);
  nsbox_close (&S.result_fd);
}

/* The launcher, which exits as soon as it has written its result: reaped before the box is
 * said to have started. It joined the box's cgroup to make the init (cgroup v1), and until it
 * is reaped it is a second task there (pids.current, cgroup.procs) beside the init. */
static void
launcher_reap (void)
{
  int status;
  pid_t pid;

  if (S.launcher_reaped)
    return;
  while ((pid = waitpid (S.launcher_pid, &status, 0)) < 0 && errno == EINTR)
    ;
  if (pid == S.launcher_pid)
    S.launcher_reaped = true, S.launcher_status = status;
}

static void
box_started (pid_t pid)
{
  struct nsbox_error err = { 0 };

  launcher_reap ();
  S.init_pid = pid;
  if (shim_write_pid_file ("init.pid", pid, &err) < 0)
    {
      kill (pid, SIGKILL);
      return start_failed ("shim", err.errnum, err.msg);
    }
  /* The init is held (or runs already, without `hold`): its views go in before anyone is
   * told it started. */
  if (shim_views_start (&err) < 0)
    {
      kill (pid, SIGKILL);
      return start_failed ("views", err.errnum, err.msg);
    }
  S.state = BOX_RUNNING;
  nsbox_close (&S.result_fd);
  shim_ready_ok ();
}

/* `ok PID` or `error STEP ERRNO MESSAGE` (PROTOCOL.md §1). */
static void
result_line (char *line)
{
  const char *p;
  uint64_t v;

  if (strncmp (line, "ok ", 3) == 0)
    {
      p = line + 3;
      if (parse_uint (&p, INT_MAX, &v) && *p == '\0' && v > 0)
        return box_started ((pid_t) v);
    }
  else if (strncmp (line, "error ", 6) == 0)
    {
      char *step = line + 6;
      char *sp = strchr (step, ' ');
      if (sp)
        {
          *sp = '\0';
          p = sp + 1;
          if (parse_uint (&p, INT_MAX, &v))
            return start_failed (step, (int) v, *p == ' ' ? p + 1 : p);
        }
    }
  /* Anything else: report it as it came. */
  {
    char msg[RESULT_MAX + 64];
    struct nsbox_buf b = NSBOX_BUF_FIXED (msg);
    nsbox_buf_str (&b, "unexpected launcher result: ");
    nsbox_buf_str (&b, line);
    start_failed ("launcher", 0, msg);
  }
}

void
shim_result_read (void)
{
  static char result_buf[RESULT_MAX + 1];

  while (S.state == BOX_STARTING && S.result_fd >= 0)
    {
      char *nl;
      ssize_t n = read (S.result_fd, result_buf + S.result_len, RESULT_MAX - S.result_len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n > 0)
        {
          S.result_len += n;
          result_buf[S.result_len] = '\0';
          nl = memchr (result_buf, '\n', S.result_len);
          if (nl || S.result_len == RESULT_MAX)
            {
              if (nl)
                *nl = '\0';
              return result_line (result_buf);
            }
          continue;
        }
      /* EOF (or an error): a last line without its newline still counts. */
      nsbox_close (&S.result_fd);
      if (S.result_len > 0)
        result_line (result_buf);
      return;
    }
}

/* The launcher exited without a result (crashed, or killed). */
static void
launcher_vanished (void)
{
  char msg[96];
  struct nsbox_buf b = NSBOX_BUF_FIXED (msg);
  int st = S.launcher_status;

  if (WIFSIGNALED (st))
    {
      nsbox_buf_str (&b, "the launcher was killed by signal ");
      nsbox_buf_int (&b, WTERMSIG (st));
    }
  else
    {
      nsbox_buf_str (&b, "the launcher exited with status ");
      nsbox_buf_int (&b, WEXITSTATUS (st));
    }
  nsbox_buf_str (&b, " without a result");
  start_failed ("launcher", 0, msg);
}

static void
init_exited (int status)
{
  S.state = BOX_EXITED;
  S.init_status = status;
  S.exited_at = shim_now_ms (CLOCK_REALTIME);
  S.deadline = shim_now_ms (CLOCK_MONOTONIC) + DRAIN_MS;
  /* Nothing in the box is left to serve. */
  shim_notify_stop ();
  shim_views_stop ();
  /* Input has nowhere to go any more. */
  if (!S.terminal)
    nsbox_close (&S.in_fd);
  /* The box's own slaves end with it: the master reads EIO once they have, and the drain ends. */
  nsbox_close (&S.pty_keep);
}

void
shim_reap (void)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);

      if (pid < 0 && errno == EINTR)
        continue;
      if (pid <= 0)
        {
          S.children_left = pid == 0 || errno != ECHILD;
          return;
        }
      if (shim_notify_reaped (pid, status) || shim_views_reaped (pid, status))
        continue;
      if (pid == S.launcher_pid)
        {
          S.launcher_reaped = true;
          S.launcher_status = status;
          /* The launcher wrote its result before exiting: it is all in the pipe. */
          shim_result_read ();
          if (S.state == BOX_STARTING)
            launcher_vanished ();
          continue;
        }
      /* init becomes our child only once the launcher has exited, hence after its result
       * was written: read it before deciding who this was. */
      if (S.state == BOX_STARTING)
        shim_result_read ();
      if (S.state == BOX_RUNNING && pid == S.init_pid)
        init_exited (status);
    }
}

void
shim_kill_children (void)
{
  char path[64];
  struct nsbox_buf b = NSBOX_BUF_FIXED (path);
  cleanup_fd int fd = -1;
  ssize_t n;
  const char *p;

  nsbox_buf_str (&b, "/proc/self/task/");
  nsbox_buf_int (&b, S.self);
  nsbox_buf_str (&b, "/children");
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read (fd, shim_io_buf, sizeof shim_io_buf - 1);
  if (n <= 0)
    return;
  shim_io_buf[n] = '\0';
  for (p = shim_io_buf; *p;)
    {
      uint64_t pid;
      if (*p == ' ' || *p == '\n')
        p++;
      else if (parse_uint (&p, INT_MAX, &pid))
        kill ((pid_t) pid, SIGKILL);
      else
        break;
    }
}
