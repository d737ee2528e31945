/* The built-in seccomp-notify handlers of nsbox-notify. Fixed C functions: a plugin picks
 * one by name and gives its parameters (packages/runtime-api, `contributeNotify`); the
 * runtime writes them into the box's notify config.
 *
 *   uname    release, version: what uname(2) says instead of the host's; the node and
 *            domain names come from the caller's own UTS namespace, the rest from the host.
 *   sysinfo  memory.limit, memory.usage, swap.limit, swap.usage (cgroup files; with
 *            swap.with-memory 1 the swap files count memory too, as v1's memsw does),
 *            procs (pids.current): the box's own figures; uptime from the box's start (its
 *            time namespace's boottime offset when it has one, else the shim's start
 *            time); with `loadavg view`, the loads of the box's /proc/loadavg (its views
 *            server's own load average); the rest stays the host's.
 *
 * A handler writes its result into the caller's memory through /proc/PID/mem, opened and
 * checked by notify.c. Anything it cannot work out (a file missing) is left to the kernel
 * (NOTIFY_CONTINUE) rather than failed. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include "openat2.h"
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

const char *
notify_param (const struct notify_rule *rule, const char *key)
{
  for (unsigned i = 0; i < rule->n_params; i++)
    if (strcmp (rule->params[i].key, key) == 0)
      return rule->params[i].value;
  return NULL;
}

int
notify_check_params (const struct notify_rule *rule, const char *const *known, struct nsbox_error *err)
{
  for (unsigned i = 0; i < rule->n_params; i++)
    {
      bool found = false;
      for (const char *const *k = known; *k && !found; k++)
        found = strcmp (*k, rule->params[i].key) == 0;
      if (!found)
        return nsbox_fail (err, EINVAL, "handler %s has no parameter '%s'", rule->handler,
                           rule->params[i].key);
    }
  return 0;
}

static enum notify_verdict
write_result (const struct notify_call *call, const void *data, size_t size,
              struct seccomp_notif_resp *resp)
{
  ssize_t n = pwrite (call->mem_fd, data, size, (off_t) call->req->data.args[0]);

  /* A pointer the caller cannot write is its EFAULT, as the kernel would say. */
  resp->val = n == (ssize_t) size ? 0 : -1;
  resp->error = n == (ssize_t) size ? 0 : -EFAULT;
  return NOTIFY_ANSWERED;
}

/* ---------------------------------------------------------------------------------- */
/* uname                                                                                */
/* ---------------------------------------------------------------------------------- */

static const char *const uname_params[] = { "release", "version", NULL };

static int
uname_check (const struct notify_rule *rule, struct nsbox_error *err)
{
  struct utsname u;

  if (notify_check_params (rule, uname_params, err) < 0)
    return -1;
  for (const char *const *k = uname_params; *k; k++)
    {
      const char *v = notify_param (rule, *k);
      if (v && strlen (v) >= sizeof u.release)
        return nsbox_fail (err, EINVAL, "uname %s is longer than %zu bytes", *k, sizeof u.release - 1);
    }
  return 0;
}

static enum notify_verdict
uname_handle (const struct notify_rule *rule, const struct notify_call *call,
              struct seccomp_notif_resp *resp)
{
  static ino_t joined; /* the UTS namespace this helper is in, once it moved */
  cleanup_fd int uts = openat (call->pid_dir, "ns/uts", O_RDONLY | O_CLOEXEC);
  const char *release = notify_param (rule, "release"), *version = notify_param (rule, "version");
  struct utsname u;
  struct stat st;

  /* The caller's node and domain names: join its UTS namespace (cheap, and only when it
   * is another one than last time: a box process may have made its own). */
  if (uts < 0 || fstat (uts, &st) < 0)
    return NOTIFY_CONTINUE;
  if (st.st_ino != joined)
    {
      if (setns (uts, CLONE_NEWUTS) < 0)
        return NOTIFY_CONTINUE;
      joined = st.st_ino;
    }
  if (uname (&u) < 0)
    return NOTIFY_CONTINUE;
  if (release)
    snprintf (u.release, sizeof u.release, "%s", release);
  if (version)
    snprintf (u.version, sizeof u.version, "%s", version);
  return write_result (call, &u, sizeof u, resp);
}

/* ---------------------------------------------------------------------------------- */
/* sysinfo                                                                              */
/* ---------------------------------------------------------------------------------- */

static const char *const sysinfo_params[] = { "memory.limit", "memory.usage", "swap.limit",
                                              "swap.usage",   "swap.with-memory", "procs",
                                              "loadavg", NULL };

/* `loadavg view`: the loads the box sees in its /proc/loadavg (its /proc views server's, the
 * box's own load), read in the caller's root without following a symlink; false (the host's
 * loads stay) when it cannot be read. */
static bool
box_loads (const struct notify_call *call, unsigned long loads[3])
{
  struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
  cleanup_fd int root = openat (call->pid_dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_fd int fd = -1;
  char buf[128];
  double avg[3];
  ssize_t n;

  if (root < 0)
    return false;
  fd = nsbox_openat2 (root, "proc/loadavg", &how);
  if (fd < 0 || (n = read (fd, buf, sizeof buf - 1)) <= 0)
    return false;
  buf[n] = '\0';
  if (sscanf (buf, "%lf %lf %lf", &avg[0], &avg[1], &avg[2]) != 3)
    return false;
  for (int i = 0; i < 3; i++)
    loads[i] = (unsigned long) (avg[i] * (1 << SI_LOAD_SHIFT));
  return true;
}

static int
sysinfo_check (const struct notify_rule *rule, struct nsbox_error *err)
{
  return notify_check_params (rule, sysinfo_params, err);
}

/* A cgroup number file: a count, or `max` (v2) / a huge number (v1) for none. */
static bool
read_number (const struct notify_rule *rule, const char *key, uint64_t *out)
{
  const char *path = notify_param (rule, key);
  char buf[64];
  char *end;

  if (path == NULL || nsbox_read_small_file (path, buf, sizeof buf) <= 0)
    return false;
  if (strncmp (buf, "max", 3) == 0)
    {
      *out = UINT64_MAX;
      return true;
    }
  errno = 0;
  *out = strtoull (buf, &end, 10);
  return errno == 0 && end != buf;
}

static uint64_t
min_u64 (uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* The boottime offset of the caller's time namespace (false: none, or not readable). */
static bool
boottime_offset (const struct notify_call *call, struct timespec *out)
{
  cleanup_fd int fd = openat (call->pid_dir, "timens_offsets", O_RDONLY | O_CLOEXEC);
  char buf[256], *line;
  ssize_t n;

  if (fd < 0)
    return false;
  n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  /* `monotonic S NS\nboottime S NS\n` (the clock may also be given by its number, 7). */
  for (line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    {
      long long secs, nsecs;
      if (sscanf (line, "boottime %lld %lld", &secs, &nsecs) == 2 || sscanf (line, "7 %lld %lld", &secs, &nsecs) == 2)
        {
          out->tv_sec = (time_t) secs;
          out->tv_nsec = (long) nsecs;
          return secs != 0 || nsecs != 0;
        }
    }
  return false;
}

/* Seconds as sysinfo(2) counts them: a started second counts (the kernel rounds up too). */
static long
uptime_of (int64_t ns)
{
  return ns <= 0 ? 0 : (long) (ns / 1000000000 + (ns % 1000000000 ? 1 : 0));
}

static enum notify_verdict
sysinfo_handle (const struct notify_rule *rule, const struct notify_call *call,
                struct seccomp_notif_resp *resp)
{
  struct sysinfo si;
  uint64_t unit, limit, usage, swap_limit, swap_usage, procs;

  if (sysinfo (&si) < 0)
    return NOTIFY_CONTINUE;
  /* Everything in bytes from here on. */
  unit = si.mem_unit ? si.mem_unit : 1;
  si.totalram *= unit, si.freeram *= unit, si.sharedram *= unit, si.bufferram *= unit;
  si.totalswap *= unit, si.freeswap *= unit, si.totalhigh *= unit, si.freehigh *= unit;
  si.mem_unit = 1;

  if (read_number (rule, "memory.limit", &limit) && limit < si.totalram)
    {
      if (!read_number (rule, "memory.usage", &usage))
        usage = 0;
      si.totalram = limit;
      si.freeram = limit - min_u64 (usage, limit);
      si.sharedram = 0;
      si.bufferram = 0;
      si.totalhigh = si.freehigh = 0;
    }
  if (read_number (rule, "swap.limit", &swap_limit) && swap_limit != UINT64_MAX)
    {
      bool with_memory = notify_param (rule, "swap.with-memory") != NULL;
      if (!read_number (rule, "swap.usage", &swap_usage))
        swap_usage = 0;
      if (with_memory) /* v1 memsw: memory + swap */
        {
          uint64_t mem_limit = read_number (rule, "memory.limit", &limit) ? limit : 0;
          uint64_t mem_usage = read_number (rule, "memory.usage", &usage) ? usage : 0;
          swap_limit = swap_limit > mem_limit ? swap_limit - mem_limit : 0;
          swap_usage = swap_usage > mem_usage ? swap_usage - mem_usage : 0;
        }
      si.totalswap = min_u64 (si.totalswap, swap_limit);
      si.freeswap = si.totalswap - min_u64 (swap_usage, si.totalswap);
    }
  if (read_number (rule, "procs", &procs))
    si.procs = (unsigned short) min_u64 (procs, 0xffff);
  if (notify_param (rule, "loadavg") != NULL)
    box_loads (call, si.loads);

  /* The box's uptime: as its time namespace shows it in /proc/uptime (host boottime plus
   * the namespace's offset), else since the box's start. */
  {
    struct timespec now, offset;
    int64_t ns;

    clock_gettime (CLOCK_BOOTTIME, &now);
    ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
    if (boottime_offset (call, &offset))
      si.uptime = uptime_of (ns + (int64_t) offset.tv_sec * 1000000000 + offset.tv_nsec);
    else if (call->started_boottime_ns > 0)
      si.uptime = uptime_of (ns - call->started_boottime_ns);
  }
  return write_result (call, &si, sizeof si, resp);
}

/* quotactl, quotactl_fd: notify-quota.c */

/* ---------------------------------------------------------------------------------- */
/* syslog                                                                               */
/* ---------------------------------------------------------------------------------- */

/* syslog(2) (klogctl: busybox dmesg, util-linux's fallback) from the box's own kernel log,
 * `kmsg.log` in the box dir (our cwd), kept by its nsbox-proc-view (proc-view-kmsg.c):
 * READ_ALL/READ/READ_CLEAR copy its newest lines, in syslog's `<PRIO>[SEC.USEC] TEXT`
 * form, that fit the caller's buffer; SIZE_BUFFER says the log's capacity; CLEAR and the
 * console controls are accepted and change nothing (the host's console is not the box's).
 * Never a line of the host's. */

enum
{
  SYSLOG_MAX = 1 << 20,
};

static char syslog_raw[SYSLOG_MAX], syslog_text[SYSLOG_MAX + SYSLOG_MAX / 4];

static int
syslog_check (const struct notify_rule *rule, struct nsbox_error *err)
{
  static const char *const none[] = { NULL };
  return notify_check_params (rule, none, err);
}

/* kmsg.log as syslog text; its length. */
static size_t
syslog_format (void)
{
  cleanup_fd int fd = open ("kmsg.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  size_t raw = 0, out = 0;
  ssize_t n;

  if (fd < 0)
    return 0;
  while (raw < sizeof syslog_raw - 1 && (n = read (fd, syslog_raw + raw, sizeof syslog_raw - 1 - raw)) > 0)
    raw += (size_t) n;
  syslog_raw[raw] = '\0';
  for (char *line = syslog_raw, *nl; line < syslog_raw + raw && (nl = strchr (line, '\n')); line = nl + 1)
    {
      unsigned prio;
      unsigned long long seq, ts;
      int used = 0;

      *nl = '\0';
      if (sscanf (line, "%u,%llu,%llu,%*[^;];%n", &prio, &seq, &ts, &used) < 3 || used == 0)
        continue;
      n = snprintf (syslog_text + out, sizeof syslog_text - out, "<%u>[%5llu.%06llu] %s\n", prio & 7,
                    ts / 1000000, ts % 1000000, line + used);
      if (n < 0 || (size_t) n >= sizeof syslog_text - out)
        break;
      out += (size_t) n;
    }
  return out;
}

static enum notify_verdict
syslog_handle (const struct notify_rule *rule, const struct notify_call *call,
               struct seccomp_notif_resp *resp)
{
  int type = (int) call->req->data.args[0];
  uint64_t buf = call->req->data.args[1];
  int len = (int) call->req->data.args[2];
  size_t size, from;
  ssize_t n;

  (void) rule;
  switch (type)
    {
    case 2: /* READ */
    case 3: /* READ_ALL */
    case 4: /* READ_CLEAR */
      if (len < 0)
        return resp->error = -EINVAL, NOTIFY_ANSWERED;
      size = syslog_format ();
      from = size > (size_t) len ? size - (size_t) len : 0;
      /* Whole lines only. */
      while (from > 0 && from < size && syslog_text[from - 1] != '\n')
        from++;
      n = size - from > 0 ? pwrite (call->mem_fd, syslog_text + from, size - from, (off_t) buf) : 0;
      if (n < 0 || (size_t) n != size - from)
        return resp->error = -EFAULT, NOTIFY_ANSWERED;
      resp->val = n;
      return NOTIFY_ANSWERED;
    case 0: /* CLOSE */
    case 1: /* OPEN */
    case 5: /* CLEAR */
    case 6: /* CONSOLE_OFF */
    case 7: /* CONSOLE_ON */
    case 8: /* CONSOLE_LEVEL */
    case 9: /* SIZE_UNREAD */
      resp->val = 0;
      return NOTIFY_ANSWERED;
    case 10: /* SIZE_BUFFER */
      resp->val = SYSLOG_MAX;
      return NOTIFY_ANSWERED;
    default:
      return resp->error = -EINVAL, NOTIFY_ANSWERED;
    }
}

static const struct notify_handler handlers[] = {
  { "uname", SYS_uname, uname_check, uname_handle },
  { "sysinfo", SYS_sysinfo, sysinfo_check, sysinfo_handle },
  { "quotactl", SYS_quotactl, notify_quotactl_check, notify_quotactl_handle },
  { "syslog", SYS_syslog, syslog_check, syslog_handle },
  { "quotactl_fd", SYS_quotactl_fd, notify_quotactl_check, notify_quotactl_handle },
};

const struct notify_handler *
notify_handler_find (const char *name)
{
  for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
    if (strcmp (handlers[i].name, name) == 0)
      return &handlers[i];
  return NULL;
}
