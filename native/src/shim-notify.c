/* The box's seccomp listeners (native/PROTOCOL.md §2, "seccomp user-notify"), kept by the
 * shim and served by nsbox-notify, a helper the shim starts and starts again when it dies.
 *
 * Why this split: the handlers read a box process's memory and answer for it, which is the
 * riskiest code of the box's supervision; the shim only holds fds. A crash of the helper
 * loses nothing: every listener stays open here, so the kernel keeps the box's notified
 * syscalls waiting (never failing) until the next helper reads them, and the one request
 * the dead helper may have been answering is in a page shared with the next one, which
 * answers it again (the handlers only write their result, so twice is harmless). One
 * helper and one shim per box: a crash reaches no other box, and nothing host-wide
 * (unlike lxcfs) serves a running box.
 *
 * The launchers (the init's in create mode, each exec's in join mode) connect to
 * `notify.sock` in the box dir before they clone, and send their listener there right after
 * loading the filter (`seccomp.listener`, the same op nsbox-runc uses for an OCI agent).
 * The shim hands each listener to the helper over a socketpair (SCM_RIGHTS, with a
 * sequence number that names it in the shared page), and closes its copy once the kernel
 * says no process uses the filter any more (EPOLLHUP). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOTIFY_SOCKET "notify.sock"
#define INFLIGHT_SIZE 4096
#define RESPAWN_MIN_MS 100
#define RESPAWN_MAX_MS 1000
#define QUICK_DEATH_MS 1000

static bool
notify_on (void)
{
  return S.notify_helper[0] != '\0';
}

int
shim_notify_setup (struct nsbox_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct timespec ts;

  S.notify_listen_fd = S.notify_ctl_fd = S.notify_inflight_fd = -1;
  for (int i = 0; i < NOTIFY_MAX; i++)
    S.notify_fd[i] = -1;
  for (int i = 0; i < NOTIFY_CONN_MAX; i++)
    S.notify_conn[i] = -1;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  S.started_boottime_ns = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
  if (!notify_on ())
    return 0;

  S.notify_inflight_fd = memfd_create ("nsbox-notify-inflight", MFD_CLOEXEC);
  if (S.notify_inflight_fd < 0)
    return nsbox_fail (err, errno, "memfd_create");
  if (ftruncate (S.notify_inflight_fd, INFLIGHT_SIZE) < 0)
    return nsbox_fail (err, errno, "ftruncate the in-flight page");

  /* Relative to the box dir (our cwd): no sun_path length limit, and a stale socket of an
   * earlier run is replaced. */
  memcpy (addr.sun_path, NOTIFY_SOCKET, sizeof NOTIFY_SOCKET);
  unlink (NOTIFY_SOCKET);
  S.notify_listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (S.notify_listen_fd < 0)
    return nsbox_fail (err, errno, "socket");
  if (bind (S.notify_listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return nsbox_fail (err, errno, "bind '%s'", NOTIFY_SOCKET);
  chmod (NOTIFY_SOCKET, 0600);
  if (listen (S.notify_listen_fd, NOTIFY_CONN_MAX) < 0)
    return nsbox_fail (err, errno, "listen '%s'", NOTIFY_SOCKET);
  if (shim_epoll_add (S.notify_listen_fd, EPOLLIN, TAG_NOTIFY_ACCEPT) < 0)
    return nsbox_fail (err, errno, "epoll_ctl");
  return 0;
}

/* One listener to the helper: its sequence number as data, the fd as SCM_RIGHTS; slot -1:
 * the end of a new helper's first batch (sequence 0, no fd). A SOCK_SEQPACKET socket keeps
 * each message whole. */
static int
send_listener (int slot)
{
  static const uint32_t end_of_batch = 0;
  char control[CMSG_SPACE (sizeof (int))] = { 0 };
  struct iovec iov = { .iov_base = (void *) (slot < 0 ? &end_of_batch : &S.notify_seq[slot]),
                       .iov_len = sizeof (uint32_t) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);

  if (slot < 0)
    msg.msg_control = NULL, msg.msg_controllen = 0;
  while (slot < 0 && sendmsg (S.notify_ctl_fd, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return -1;
  if (slot < 0)
    return 0;
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &S.notify_fd[slot], sizeof (int));
  while (sendmsg (S.notify_ctl_fd, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

static bool
have_listeners (void)
{
  for (int i = 0; i < NOTIFY_MAX; i++)
    if (S.notify_fd[i] >= 0)
      return true;
  return false;
}

/* In the child: fd 3 = the control socket, 4 = the in-flight page; cwd is the box dir. */
static void __attribute__ ((noreturn))
helper_exec (int ctl)
{
  char started[32];
  struct nsbox_buf b = NSBOX_BUF_FIXED (started);
  char *argv[] = { S.notify_helper, (char *) "--config", (char *) S.notify_config,
                   (char *) "--started-boottime-ns", started, NULL };
  struct sigaction sa = { .sa_handler = SIG_DFL };
  sigset_t none;

  nsbox_buf_int (&b, S.started_boottime_ns);
  for (int sig = 1; sig < NSIG; sig++)
    sigaction (sig, &sa, NULL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (dup2 (ctl, 3) < 0 || dup2 (S.notify_inflight_fd, 4) < 0)
    _exit (127);
  close_range (5, ~0U, 0);
  execv (S.notify_helper, argv);
  dprintf (2, "nsbox-shim: exec '%s': %s\n", S.notify_helper, strerror (errno));
  _exit (127);
}

static void
helper_spawn (void)
{
  int sv[2];
  pid_t pid;

  S.notify_respawn_at = 0;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      dprintf (2, "nsbox-shim: socketpair for nsbox-notify: %s\n", strerror (errno));
      S.notify_respawn_at = shim_now_ms (CLOCK_MONOTONIC) + RESPAWN_MAX_MS;
      return;
    }
  pid = fork ();
  if (pid == 0)
    helper_exec (sv[1]);
  close (sv[1]);
  if (pid < 0)
    {
      dprintf (2, "nsbox-shim: fork nsbox-notify: %s\n", strerror (errno));
      close (sv[0]);
      S.notify_respawn_at = shim_now_ms (CLOCK_MONOTONIC) + RESPAWN_MAX_MS;
      return;
    }
  S.notify_pid = pid;
  S.notify_ctl_fd = sv[0];
  S.notify_spawned_at = shim_now_ms (CLOCK_MONOTONIC);
  for (int i = 0; i < NOTIFY_MAX; i++)
    if (S.notify_fd[i] >= 0 && send_listener (i) < 0)
      return; /* it died already: the reaper respawns it, and it gets them all again */
  /* The end of the batch: sequence 0, no fd (a request left in flight on a listener that
   * is not among them has no caller any more). */
  send_listener (-1);
}

static void
add_listener (int fd)
{
  for (int i = 0; i < NOTIFY_MAX; i++)
    if (S.notify_fd[i] < 0)
      {
        S.notify_fd[i] = fd;
        S.notify_seq[i] = ++S.notify_next_seq;
        /* No EPOLLIN: the helper reads the requests; we only learn when the filter has no
         * process left (EPOLLHUP is always reported). */
        if (shim_epoll_add (fd, 0, TAG_NOTIFY_LISTENER + (uint64_t) i) < 0)
          dprintf (2, "nsbox-shim: epoll_ctl on a listener: %s\n", strerror (errno));
        if (S.notify_pid > 0)
          send_listener (i);
        else if (S.notify_respawn_at == 0)
          helper_spawn ();
        return;
      }
  /* More than NOTIFY_MAX execs at once: the launcher sees its send succeed, but nobody
   * serves this filter. Closing it makes the kernel fail its notified calls with ENOSYS
   * rather than hang them forever. */
  dprintf (2, "nsbox-shim: more than %d seccomp listeners; one is refused\n", NOTIFY_MAX);
  close (fd);
}

static void
accept_launcher (void)
{
  for (;;)
    {
      int fd = accept4 (S.notify_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      struct ucred cred;
      socklen_t len = sizeof cred;
      int slot = -1;

      if (fd < 0)
        return;
      /* Only our own launchers (host root) may hand us listeners. */
      if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
        {
          close (fd);
          continue;
        }
      for (int i = 0; i < NOTIFY_CONN_MAX && slot < 0; i++)
        if (S.notify_conn[i] < 0)
          slot = i;
      if (slot < 0 || shim_epoll_add (fd, EPOLLIN, TAG_NOTIFY_CONN + (uint64_t) slot) < 0)
        {
          close (fd);
          continue;
        }
      S.notify_conn[slot] = fd;
    }
}

/* The launcher's message: the OCI state (not needed here) with the listener attached. */
static void
read_launcher (int slot)
{
  char control[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { .iov_base = shim_io_buf, .iov_len = sizeof shim_io_buf };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
  ssize_t n;

  do
    n = recvmsg (S.notify_conn[slot], &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); n > 0 && c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        int fd;
        memcpy (&fd, CMSG_DATA (c), sizeof fd);
        add_listener (fd);
      }
  /* One listener per connection: the rest of the state is not ours to read. */
  if (n <= 0 || !(msg.msg_flags & MSG_CTRUNC))
    nsbox_close (&S.notify_conn[slot]);
}

void
shim_notify_event (uint64_t tag, uint32_t events)
{
  if (tag == TAG_NOTIFY_ACCEPT)
    return accept_launcher ();
  if (tag >= TAG_NOTIFY_LISTENER && tag < TAG_NOTIFY_LISTENER + NOTIFY_MAX)
    {
      int slot = (int) (tag - TAG_NOTIFY_LISTENER);
      if (events & (EPOLLHUP | EPOLLERR))
        nsbox_close (&S.notify_fd[slot]);
      return;
    }
  if (tag >= TAG_NOTIFY_CONN && tag < TAG_NOTIFY_CONN + NOTIFY_CONN_MAX)
    read_launcher ((int) (tag - TAG_NOTIFY_CONN));
}

bool
shim_notify_reaped (pid_t pid, int status)
{
  int64_t now;
  unsigned shift;

  if (pid != S.notify_pid || pid <= 0)
    return false;
  S.notify_pid = 0;
  nsbox_close (&S.notify_ctl_fd);
  if (S.state == BOX_EXITED || S.state == BOX_FAILED)
    return true;
  if (WIFSIGNALED (status))
    dprintf (2, "nsbox-shim: nsbox-notify was killed by signal %d; starting it again\n", WTERMSIG (status));
  else
    dprintf (2, "nsbox-shim: nsbox-notify exited with status %d; starting it again\n", WEXITSTATUS (status));
  /* A death is healed at once; only a helper that keeps dying young (within a second of
   * its start, twice or more in a row) gets a pause before the next, growing from 100 ms
   * to a second. The box's calls wait meanwhile; none fails. */
  now = shim_now_ms (CLOCK_MONOTONIC);
  S.notify_crashes = now - S.notify_spawned_at < QUICK_DEATH_MS ? S.notify_crashes + 1 : 0;
  if (S.notify_crashes <= 1)
    {
      if (have_listeners ())
        helper_spawn ();
    }
  else
    {
      shift = S.notify_crashes - 2 > 4 ? 4 : S.notify_crashes - 2;
      S.notify_respawn_at = now + ((RESPAWN_MIN_MS << shift) > RESPAWN_MAX_MS ? RESPAWN_MAX_MS : (RESPAWN_MIN_MS << shift));
    }
  return true;
}

void
shim_notify_tick (int64_t now)
{
  if (S.notify_respawn_at == 0 || now < S.notify_respawn_at)
    return;
  S.notify_respawn_at = 0;
  if (S.state != BOX_EXITED && S.state != BOX_FAILED && S.notify_pid == 0 && have_listeners ())
    helper_spawn ();
}

/* The helper started again, so that it reads its config anew (the runtime rewrote it: a
 * value it answers with changed on the running box). The same path as a crash — the request
 * it may have been answering is in the page they share, and the next one answers it — but
 * not counted as one, and the new helper starts at once. */
void
shim_notify_reload (void)
{
  if (S.notify_pid <= 0)
    return; /* none runs: the next one reads the new config anyway */
  if (kill (S.notify_pid, SIGKILL) == 0)
    while (waitpid (S.notify_pid, NULL, 0) < 0 && errno == EINTR)
      ;
  S.notify_pid = 0;
  nsbox_close (&S.notify_ctl_fd);
  if (S.state != BOX_EXITED && S.state != BOX_FAILED && have_listeners ())
    helper_spawn ();
}

void
shim_notify_stop (void)
{
  S.notify_respawn_at = 0;
  /* Collected here: once the shim is gone an orphan would wait for a host init that may
   * never reap it. SIGKILL ends it at once (its handlers never sleep uninterruptibly long). */
  if (S.notify_pid > 0 && kill (S.notify_pid, SIGKILL) == 0)
    while (waitpid (S.notify_pid, NULL, 0) < 0 && errno == EINTR)
      ;
  S.notify_pid = 0;
  nsbox_close (&S.notify_ctl_fd);
  for (int i = 0; i < NOTIFY_MAX; i++)
    nsbox_close (&S.notify_fd[i]);
  for (int i = 0; i < NOTIFY_CONN_MAX; i++)
    nsbox_close (&S.notify_conn[i]);
  nsbox_close (&S.notify_listen_fd);
  if (notify_on ())
    unlink (NOTIFY_SOCKET);
}
