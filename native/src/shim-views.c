/* The box's /proc views (native/PROTOCOL.md §2, "/proc views"): the shim opens the box's
 * FUSE connections (/dev/fuse: one for the /proc and /sys views, one for /dev/kmsg) and
 * keeps them for the box's whole life; nsbox-proc-view, a server the shim starts and starts
 * again when it dies, serves them.
 *
 * Why the shim keeps the connection: a FUSE filesystem whose last /dev/fuse fd closes is
 * aborted, and every read of it fails with ENOTCONN — what happens to every container when
 * the host-wide lxcfs dies. Held here, the connection survives its server: the box's reads
 * wait in the kernel's queue until the next server (started at once) reads them, and the
 * one the dead server had taken is in a page shared by every server of the box (fd 4),
 * which the next one answers first. The shim only holds two fds and starts a process: the
 * parsing and rendering, the risky part, is the server's.
 *
 * The first server mounts (`--mount`), while the box's init is held before exec (the
 * launcher has said `ok PID`, the starter has not been told yet): the box never runs a
 * moment without its views, and a box whose views cannot be mounted does not start. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define VIEWS_PAGE_SIZE (128 * 1024) /* >= sizeof (struct view_page) of proc-view.c */
#define MOUNT_WAIT_MS 10000
#define RESPAWN_MIN_MS 100
#define RESPAWN_MAX_MS 1000
#define QUICK_DEATH_MS 1000

static bool
views_on (void)
{
  return S.views_helper[0] != '\0';
}

int
shim_views_setup (struct nsbox_error *err)
{
  S.views_fuse_fd = S.views_kmsg_fd = S.views_page_fd = -1;
  if (!views_on ())
    return 0;
  /* Two connections (the server mounts those its config uses): an unmounted one costs a
   * file and nothing else. */
  S.views_fuse_fd = open ("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (S.views_fuse_fd < 0)
    return nsbox_fail (err, errno, "open '/dev/fuse' for the /proc views");
  S.views_kmsg_fd = open ("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (S.views_kmsg_fd < 0)
    return nsbox_fail (err, errno, "open '/dev/fuse' for the kernel log view");
  S.views_page_fd = memfd_create ("nsbox-proc-view-page", MFD_CLOEXEC);
  if (S.views_page_fd < 0)
    return nsbox_fail (err, errno, "memfd_create");
  if (ftruncate (S.views_page_fd, VIEWS_PAGE_SIZE) < 0)
    return nsbox_fail (err, errno, "ftruncate the views page");
  return 0;
}

/* In the child: fd 3 = the views' FUSE connection, 4 = the shared page, 5 = the mount
 * status (first start only), 6 = /dev/kmsg's FUSE connection; cwd is the box dir, stderr
 * shim.log. */
static void __attribute__ ((noreturn))
server_exec (int status_fd)
{
  char started[32], init[16];
  struct nsbox_buf b = NSBOX_BUF_FIXED (started), bi = NSBOX_BUF_FIXED (init);
  char *argv[] = { S.views_helper, (char *) "--config", (char *) S.views_config, (char *) "--init-pid", init,
                   (char *) "--started-boottime-ns", started, status_fd >= 0 ? (char *) "--mount" : NULL, NULL };
  struct sigaction sa = { .sa_handler = SIG_DFL };
  sigset_t none;

  nsbox_buf_int (&b, S.started_boottime_ns);
  nsbox_buf_int (&bi, S.init_pid);
  for (int sig = 1; sig < NSIG; sig++)
    sigaction (sig, &sa, NULL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* Moved above 6 first: a source could sit on a target of another. */
  int fuse = fcntl (S.views_fuse_fd, F_DUPFD, 7), page = fcntl (S.views_page_fd, F_DUPFD, 7);
  int kmsg = fcntl (S.views_kmsg_fd, F_DUPFD, 7), status = status_fd >= 0 ? fcntl (status_fd, F_DUPFD, 7) : -1;
  if (fuse < 0 || page < 0 || kmsg < 0 || (status_fd >= 0 && status < 0) || dup2 (fuse, 3) < 0
      || dup2 (page, 4) < 0 || dup2 (kmsg, 6) < 0 || (status >= 0 && dup2 (status, 5) < 0))
    _exit (127);
  if (status < 0)
    close (5);
  close_range (7, ~0U, 0);
  execv (S.views_helper, argv);
  dprintf (2, "nsbox-shim: exec '%s': %s\n", S.views_helper, strerror (errno));
  _exit (127);
}

static pid_t
server_spawn (int status_fd)
{
  pid_t pid = fork ();

  if (pid == 0)
    server_exec (status_fd);
  if (pid < 0)
    dprintf (2, "nsbox-shim: fork nsbox-proc-view: %s\n", strerror (errno));
  S.views_respawn_at = pid < 0 ? shim_now_ms (CLOCK_MONOTONIC) + RESPAWN_MAX_MS : 0;
  S.views_pid = pid > 0 ? pid : 0;
  S.views_spawned_at = shim_now_ms (CLOCK_MONOTONIC);
  return pid;
}

int
shim_views_start (struct nsbox_error *err)
{
  char line[1200];
  size_t len = 0;
  int p[2];
  int64_t deadline = shim_now_ms (CLOCK_MONOTONIC) + MOUNT_WAIT_MS;

  if (!views_on ())
    return 0;
  if (pipe2 (p, O_CLOEXEC) < 0)
    return nsbox_fail (err, errno, "pipe");
  if (server_spawn (p[1]) < 0)
    {
      close (p[0]);
      close (p[1]);
      return nsbox_fail (err, EAGAIN, "cannot start nsbox-proc-view");
    }
  close (p[1]);
  /* One line from the server's mounting child: `ok` or `error ERRNO MESSAGE`. */
  while (len < sizeof line - 1 && !memchr (line, '\n', len))
    {
      struct pollfd pfd = { .fd = p[0], .events = POLLIN };
      int64_t left = deadline - shim_now_ms (CLOCK_MONOTONIC);
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, (int) left) == 0)
        {
          close (p[0]);
          return nsbox_fail (err, ETIMEDOUT, "nsbox-proc-view did not mount the views within %d ms", MOUNT_WAIT_MS);
        }
      n = read (p[0], line + len, sizeof line - 1 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t) n;
    }
  close (p[0]);
  line[len] = '\0';
  if (strncmp (line, "ok\n", 3) == 0)
    return 0;
  if (strncmp (line, "error ", 6) == 0)
    {
      char *msg = strchr (line + 6, ' ');
      char *nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      err->errnum = atoi (line + 6);
      snprintf (err->msg, sizeof err->msg, "/proc views: %.900s", msg ? msg + 1 : line + 6);
      return -1;
    }
  return nsbox_fail (err, EIO, "nsbox-proc-view ended without mounting the views");
}

bool
shim_views_reaped (pid_t pid, int status)
{
  int64_t now;

  if (pid != S.views_pid || pid <= 0)
    return false;
  S.views_pid = 0;
  if (S.state != BOX_RUNNING && S.state != BOX_STARTING)
    return true;
  if (WIFSIGNALED (status))
    dprintf (2, "nsbox-shim: nsbox-proc-view was killed by signal %d; starting it again\n", WTERMSIG (status));
  else
    dprintf (2, "nsbox-shim: nsbox-proc-view exited with status %d; starting it again\n", WEXITSTATUS (status));
  /* As for nsbox-notify: healed at once; one that keeps dying young waits 100 ms → 1 s.
   * The box's reads wait in the kernel's queue meanwhile. */
  now = shim_now_ms (CLOCK_MONOTONIC);
  S.views_crashes = now - S.views_spawned_at < QUICK_DEATH_MS ? S.views_crashes + 1 : 0;
  if (S.views_crashes <= 1)
    server_spawn (-1);
  else
    {
      unsigned shift = S.views_crashes - 2 > 4 ? 4 : S.views_crashes - 2;
      int64_t wait = (int64_t) RESPAWN_MIN_MS << shift;
      S.views_respawn_at = now + (wait > RESPAWN_MAX_MS ? RESPAWN_MAX_MS : wait);
    }
  return true;
}

void
shim_views_tick (int64_t now)
{
  if (S.views_respawn_at == 0 || now < S.views_respawn_at)
    return;
  S.views_respawn_at = 0;
  if (S.state == BOX_RUNNING && S.views_pid == 0)
    server_spawn (-1);
}

void
shim_views_stop (void)
{
  S.views_respawn_at = 0;
  if (S.views_pid > 0 && kill (S.views_pid, SIGKILL) == 0)
    while (waitpid (S.views_pid, NULL, 0) < 0 && errno == EINTR)
      ;
  S.views_pid = 0;
  nsbox_close (&S.views_fuse_fd);
  nsbox_close (&S.views_kmsg_fd);
  nsbox_close (&S.views_page_fd);
}
