/* What one denied syscall costs the caller, by how a filter answers it (README, "Seccomp
 * denials"): kernel-answered EPERM, the same with SECCOMP_FILTER_FLAG_LOG (an audit record
 * per denial, whether printk's limit then drops its line or not), and SECCOMP_RET_USER_NOTIF
 * answered EPERM by a listener in another process (what nsbox-notify would do). keyctl
 * unfiltered is the baseline (the kernel's own answer). Then an allowed syscall through one
 * filter, and through the two NSBOX_SECCOMP_LOG_DENIALS makes.
 *
 *   gcc -O2 -o /tmp/denial-cost plugins/tracking/bench/denial-cost.c -lseccomp
 *   /tmp/denial-cost [calls per mode, default 20000]
 *
 * Root or not: the filter is loaded with no_new_privs. The log mode writes up to 10 audit
 * lines to the kernel log (printk_ratelimit) and makes the kernel count the rest suppressed. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void
send_fd (int sock, int fd)
{
  char control[CMSG_SPACE (sizeof fd)], byte = 0;
  struct iovec iov = { &byte, 1 };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  struct cmsghdr *h = CMSG_FIRSTHDR (&m);

  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN (sizeof fd);
  memcpy (CMSG_DATA (h), &fd, sizeof fd);
  if (sendmsg (sock, &m, 0) < 0)
    _exit (2);
}

static int
recv_fd (int sock)
{
  char control[CMSG_SPACE (sizeof (int))], byte;
  struct iovec iov = { &byte, 1 };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  int fd;

  if (recvmsg (sock, &m, 0) <= 0 || CMSG_FIRSTHDR (&m) == NULL)
    return -1;
  memcpy (&fd, CMSG_DATA (CMSG_FIRSTHDR (&m)), sizeof fd);
  return fd;
}

/* One mode in a child of its own (a filter cannot be unloaded). */
static void
measure (const char *mode, long n)
{
  int sv[2];
  pid_t child;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    exit (2);
  child = fork ();
  if (child == 0)
    {
      scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
      bool notify = strcmp (mode, "notify") == 0;
      long denied = 0;
      double t0, t;

      if (strcmp (mode, "none") != 0)
        seccomp_rule_add (ctx, notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO (EPERM), SCMP_SYS (keyctl), 0);
      if (strcmp (mode, "log") == 0)
        seccomp_attr_set (ctx, SCMP_FLTATR_CTL_LOG, 1);
      if (seccomp_load (ctx) < 0)
        _exit (2);
      if (notify)
        send_fd (sv[0], seccomp_notify_fd (ctx));
      t0 = now ();
      for (long i = 0; i < n; i++)
        if (syscall (SYS_keyctl, 0, 0, 0, 0, 0) < 0 && errno == EPERM)
          denied++;
      t = now () - t0;
      printf ("%-7s %ld calls, %6ld EPERM, %7.2f us per call\n", mode, n, denied, t / n * 1e6);
      fflush (stdout);
      _exit (0);
    }
  if (strcmp (mode, "notify") == 0)
    {
      int fd = recv_fd (sv[1]);
      struct seccomp_notif req;
      struct seccomp_notif_resp resp;

      for (long i = 0; fd >= 0 && i < n; i++)
        {
          memset (&req, 0, sizeof req);
          if (ioctl (fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
            break;
          resp = (struct seccomp_notif_resp){ .id = req.id, .error = -EPERM };
          ioctl (fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        }
    }
  waitpid (child, NULL, 0);
  close (sv[0]);
  close (sv[1]);
}

/* An allowed syscall (getppid) through `filters` filters: the logged one (keyctl denied), and
 * with 2 the unlogged one NSBOX_SECCOMP_LOG_DENIALS adds (clone3 answered ENOSYS). */
static void
measure_allowed (int filters, long n)
{
  pid_t child = fork ();

  if (child == 0)
    {
      scmp_filter_ctx logged = seccomp_init (SCMP_ACT_ALLOW);
      double t0, t;

      seccomp_rule_add (logged, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (keyctl), 0);
      seccomp_attr_set (logged, SCMP_FLTATR_CTL_LOG, 1);
      if (filters == 2)
        {
          scmp_filter_ctx unlogged = seccomp_init (SCMP_ACT_ALLOW);
          seccomp_rule_add (unlogged, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
          if (seccomp_load (unlogged) < 0)
            _exit (2);
        }
      if (seccomp_load (logged) < 0)
        _exit (2);
      t0 = now ();
      for (long i = 0; i < n; i++)
        syscall (SYS_getppid);
      t = now () - t0;
      printf ("allowed getppid, %d filter%s  %ld calls, %7.3f us per call\n", filters, filters > 1 ? "s" : " ", n, t / n * 1e6);
      fflush (stdout);
      _exit (0);
    }
  waitpid (child, NULL, 0);
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 20000;
  const char *modes[] = { "none", "errno", "log", "notify" };

  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    measure (modes[i], n);
  measure_allowed (1, n * 50);
  measure_allowed (2, n * 50);
  return 0;
}
