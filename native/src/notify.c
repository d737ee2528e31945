/* nsbox-notify: answers a box's notified syscalls (native/PROTOCOL.md §2).
 *
 *   nsbox-notify --config FILE --started-boottime-ns NS
 *
 * Started (and started again when it dies) by the box's shim, with fd 3 = a SOCK_SEQPACKET
 * socket from which it gets the box's seccomp listeners (a u32 sequence number + the fd as
 * SCM_RIGHTS) and fd 4 = a page shared with the shim. Its cwd is the box dir.
 *
 * The config, written by the runtime: `handler NAME` starts a rule, `KEY VALUE` lines give
 * its parameters (the value is the rest of the line). The handlers are fixed C functions
 * (notify-handlers.c): a plugin chooses among them and gives parameters, never code.
 *
 * The in-flight page: a request is received straight into it, with its listener's sequence
 * number; once answered, it is cleared. A helper killed in between leaves it set, and the
 * next helper answers that request first (SECCOMP_IOCTL_NOTIF_ID_VALID says whether it still
 * waits): a received request is otherwise lost to the kernel, its caller stuck. Layout
 * (struct inflight): u32 sequence, u32 busy (1: received, not answered; 2: answered),
 * struct seccomp_notif. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#ifndef AUDIT_ARCH_X86_64
#include <linux/audit.h>
#endif
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "nsbox-notify: add this architecture's AUDIT_ARCH"
#endif

enum
{
  CTL_FD = 3,
  INFLIGHT_FD = 4,
  LISTENERS_MAX = 64,
  CONFIG_MAX = 16384,
};

struct inflight
{
  uint32_t seq;  /* the listener's sequence number (the shim's) */
  uint32_t busy; /* 1 from the receive until the answer is sent, 2 once it is (nothing to redo) */
  struct seccomp_notif req;
};

static struct
{
  struct notify_rule rules[NOTIFY_RULES_MAX];
  unsigned n_rules;
  int64_t started_boottime_ns;
  struct inflight *inflight;
  struct pollfd fds[1 + LISTENERS_MAX]; /* [0]: the shim's socket */
  uint32_t seq[1 + LISTENERS_MAX];
  unsigned n_fds;
} N;

static char config_buf[CONFIG_MAX];

static int
load_config (const char *path, struct nsbox_error *err)
{
  struct notify_rule *rule = NULL;
  char *line, *save = NULL;

  if (nsbox_read_config_file (path, config_buf, sizeof config_buf, err) < 0)
    return -1;
  for (line = strtok_r (config_buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *value = strchr (line, ' ');

      if (line[0] == '#' || line[0] == '\0')
        continue;
      if (value == NULL)
        return nsbox_fail (err, EINVAL, "'%s': '%s' is not KEY VALUE", path, line);
      *value++ = '\0';
      if (strcmp (line, "handler") == 0)
        {
          const struct notify_handler *h = notify_handler_find (value);
          if (h == NULL)
            return nsbox_fail (err, EINVAL, "'%s': no handler '%s'", path, value);
          if (N.n_rules == NOTIFY_RULES_MAX)
            return nsbox_fail (err, E2BIG, "'%s': more than %d rules", path, NOTIFY_RULES_MAX);
          rule = &N.rules[N.n_rules++];
          rule->handler = h->name;
          rule->syscall_nr = h->syscall_nr;
          continue;
        }
      if (rule == NULL)
        return nsbox_fail (err, EINVAL, "'%s': '%s' before any handler", path, line);
      if (rule->n_params == NOTIFY_PARAMS_MAX)
        return nsbox_fail (err, E2BIG, "'%s': handler %s has too many parameters", path, rule->handler);
      rule->params[rule->n_params++] = (struct notify_param){ line, value };
    }
  for (unsigned i = 0; i < N.n_rules; i++)
    if (notify_handler_find (N.rules[i].handler)->check (&N.rules[i], err) < 0)
      return -1;
  return 0;
}

static int
parse_args (int argc, char **argv, struct nsbox_error *err)
{
  const char *config = NULL;
  long long started = 0;

  for (int i = 1; i + 1 < argc; i += 2)
    if (strcmp (argv[i], "--config") == 0)
      config = argv[i + 1];
    else if (strcmp (argv[i], "--started-boottime-ns") == 0)
      {
        if (nsbox_parse_long (argv[i + 1], 0, INT64_MAX, &started) < 0)
          return nsbox_fail (err, EINVAL, "--started-boottime-ns: not a number: '%s'", argv[i + 1]);
      }
    else
      return nsbox_fail (err, EINVAL, "unknown argument '%s'", argv[i]);
  if (config == NULL || argc % 2 == 0)
    return nsbox_fail (err, EINVAL, "usage: nsbox-notify --config FILE [--started-boottime-ns NS]");
  N.started_boottime_ns = started;
  return load_config (config, err);
}

static const struct notify_rule *
rule_for (int nr)
{
  for (unsigned i = 0; i < N.n_rules; i++)
    if (N.rules[i].syscall_nr == nr)
      return &N.rules[i];
  return NULL;
}

static int
open_in (int dir, const char *name, int flags)
{
  return openat (dir, name, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* Answers one request; the response goes back on the listener it came from. */
static void
handle (int listener, const struct seccomp_notif *req)
{
  struct seccomp_notif_resp resp = { .id = req->id };
  const struct notify_rule *rule = req->data.arch == NATIVE_ARCH ? rule_for (req->data.nr) : NULL;
  enum notify_verdict verdict = NOTIFY_CONTINUE;

  if (rule)
    {
      char path[32];
      struct nsbox_buf b = NSBOX_BUF_FIXED (path);
      cleanup_fd int pid_dir = -1;
      cleanup_fd int mem_fd = -1;
      uint64_t id = req->id;

      nsbox_buf_str (&b, "/proc/");
      nsbox_buf_int (&b, req->pid);
      pid_dir = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (pid_dir >= 0)
        mem_fd = open_in (pid_dir, "mem", O_RDWR);
      /* The opens raced with the process's end (and a new process under its pid): they
       * name the caller only if the request is still pending now. */
      if (ioctl (listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
        return;
      if (pid_dir >= 0 && mem_fd >= 0)
        {
          struct notify_call call = { .req = req, .mem_fd = mem_fd, .pid_dir = pid_dir,
                                      .started_boottime_ns = N.started_boottime_ns };
          verdict = notify_handler_find (rule->handler)->handle (rule, &call, &resp);
        }
    }
  /* Whatever could not be answered runs in the kernel: the box sees the host's values,
   * never an error of ours. (CONTINUE is safe here: these handlers decide no access.) */
  if (verdict == NOTIFY_CONTINUE)
    {
      resp.val = resp.error = 0;
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
  while (ioctl (listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno == EINTR)
    ;
  __atomic_store_n (&N.inflight->busy, 2, __ATOMIC_RELEASE);
}

/* The request is received straight into the shared page, marked busy before the ioctl:
 * a helper killed at any point after the kernel handed the request over leaves it there,
 * whole, for the next one (and one killed before leaves an id of 0: nothing was taken). */
static void
receive (unsigned slot)
{
  struct seccomp_notif req;

  memset (&N.inflight->req, 0, sizeof N.inflight->req); /* the kernel wants it zeroed */
  N.inflight->seq = N.seq[slot];
  __atomic_store_n (&N.inflight->busy, 1, __ATOMIC_RELEASE);
  if (ioctl (N.fds[slot].fd, SECCOMP_IOCTL_NOTIF_RECV, &N.inflight->req) == 0)
    {
      req = N.inflight->req;
      handle (N.fds[slot].fd, &req);
    }
  /* else ENOENT: the caller went away (a signal); EINTR: poll again */
  __atomic_store_n (&N.inflight->busy, 0, __ATOMIC_RELEASE);
}

/* What the dead helper before this one left in flight: it waits for its listener, and
 * nothing else is received (the page stays as it is) until it was answered or the shim's
 * first batch of listeners ended without it (its filter is gone). */
static bool recovering;

static void
recover (int fd, uint32_t seq)
{
  struct seccomp_notif req = N.inflight->req;
  uint64_t id = req.id;

  if (fd >= 0 && seq != N.inflight->seq)
    return;
  if (fd >= 0 && id != 0 && ioctl (fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0)
    {
      dprintf (2, "nsbox-notify: answering request %llu, left in flight by the helper before\n",
               (unsigned long long) req.id);
      handle (fd, &req);
    }
  __atomic_store_n (&N.inflight->busy, 0, __ATOMIC_RELEASE);
  recovering = false;
}

/* A message from the shim: a listener (its sequence number, the fd), or sequence 0 without
 * an fd, which ends the batch the shim sends to a new helper. */
static void
add_listener (void)
{
  char control[CMSG_SPACE (sizeof (int))];
  uint32_t seq = 0;
  struct iovec iov = { .iov_base = &seq, .iov_len = sizeof seq };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
  struct cmsghdr *c;
  ssize_t n;
  int fd = -1;

  n = recvmsg (CTL_FD, &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0)
    {
      if (n == 0 || (errno != EINTR && errno != EAGAIN))
        N.fds[0].fd = -1; /* the shim is gone: keep serving what we have */
      return;
    }
  c = CMSG_FIRSTHDR (&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy (&fd, CMSG_DATA (c), sizeof fd);
  if (fd < 0)
    {
      if (seq == 0 && recovering)
        recover (-1, 0);
      return;
    }
  if (N.n_fds == 1 + LISTENERS_MAX)
    {
      close (fd);
      return;
    }
  N.fds[N.n_fds] = (struct pollfd){ .fd = fd, .events = POLLIN };
  N.seq[N.n_fds] = seq;
  N.n_fds++;
  if (recovering)
    recover (fd, seq);
}

static void
drop_listener (unsigned slot)
{
  close (N.fds[slot].fd);
  N.fds[slot] = N.fds[N.n_fds - 1];
  N.seq[slot] = N.seq[N.n_fds - 1];
  N.n_fds--;
}

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };

  signal (SIGPIPE, SIG_IGN);
  if (parse_args (argc, argv, &err) < 0)
    {
      dprintf (2, "nsbox-notify: %s\n", err.msg);
      return 2;
    }
  N.inflight = mmap (NULL, sizeof *N.inflight, PROT_READ | PROT_WRITE, MAP_SHARED, INFLIGHT_FD, 0);
  if (N.inflight == MAP_FAILED)
    {
      dprintf (2, "nsbox-notify: mmap the in-flight page: %s\n", strerror (errno));
      return 2;
    }
  N.fds[0] = (struct pollfd){ .fd = CTL_FD, .events = POLLIN };
  N.n_fds = 1;
  recovering = __atomic_load_n (&N.inflight->busy, __ATOMIC_ACQUIRE) == 1;

  /* Until the shim is gone and the last filter has no process left. */
  while (N.fds[0].fd >= 0 || N.n_fds > 1)
    {
      /* While recovering, only the shim's messages: the page must stay as it is. */
      if (poll (N.fds, recovering ? 1 : N.n_fds, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          dprintf (2, "nsbox-notify: poll: %s\n", strerror (errno));
          return 1;
        }
      if (N.fds[0].revents & POLLIN)
        add_listener ();
      else if (N.fds[0].revents & (POLLHUP | POLLERR))
        N.fds[0].fd = -1;
      for (unsigned i = recovering ? 1 : N.n_fds; i-- > 1;)
        {
          if (N.fds[i].revents & POLLIN)
            receive (i);
          else if (N.fds[i].revents & (POLLHUP | POLLERR))
            drop_listener (i);
        }
    }
  return 0;
}
