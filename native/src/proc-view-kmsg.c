/* The box's own kernel log (issue 15, 3f). Linux has no syslog namespace: a box either reads
 * the host's log or nothing. Here each box has a log of its own, `kmsg.log` in its box dir,
 * in /dev/kmsg's record format (`PRIO,SEQ,TS_USEC,-;MESSAGE\n`), holding:
 *   - the host kernel's lines about the box's own processes, which the server picks from the
 *     host's /dev/kmsg as they come: an OOM kill in the box's memory cgroup (the `oom-kill:`
 *     line names it; the `Killed process`/`oom_reaper` lines follow by pid), and a line
 *     `COMM[PID]: ...` (segfault, general protection, trap) of a process of the box;
 *   - what the box writes to its /dev/kmsg.
 * Never another line of the host's. The box reads it through its /dev/kmsg (a view, the byte
 * offset of a read is the record's place in the file, so no server keeps a position) and
 * through syslog(2) (nsbox-notify's `syslog` handler reads the same file).
 *
 * The file only grows, up to KMSG_MAX; then new records are dropped (one last record says
 * so): offsets stay valid for every reader. */
#include "proc-view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KMSG_FILE "kmsg.log"
#define KMSG_MAX (1 << 20)

static int log_fd = -1;
static uint64_t box_start_usec; /* records count time from the box's start, as its uptime does */
static char line_buf[8192];

int
kmsg_open_log (int64_t started_boottime_ns)
{
  box_start_usec = started_boottime_ns > 0 ? (uint64_t) started_boottime_ns / 1000 : 0;
  log_fd = open (KMSG_FILE, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  return log_fd;
}

int
kmsg_log_fd (void)
{
  return log_fd;
}

/* Appends one record; the text is cut at its first newline. */
void
kmsg_append (struct view_kmsg *k, int prio, uint64_t ts_usec, const char *text, size_t len)
{
  struct stat st;
  int n;
  const char *nl = memchr (text, '\n', len);

  if (log_fd < 0 || fstat (log_fd, &st) < 0 || k->full)
    return;
  if (nl)
    len = (size_t) (nl - text);
  ts_usec = ts_usec > box_start_usec ? ts_usec - box_start_usec : 0;
  if (len > 1000)
    len = 1000;
  if (st.st_size + (off_t) len + 64 > KMSG_MAX)
    {
      static const char full[] = "nsbox: this box's kernel log is full; later messages are dropped";
      k->full = 1;
      text = full, len = sizeof full - 1, prio = 4;
    }
  n = snprintf (line_buf, sizeof line_buf, "%d,%llu,%llu,-;%.*s\n", prio, (unsigned long long) k->seq++,
                (unsigned long long) ts_usec, (int) len, text);
  if (n > 0)
    nsbox_write_all (log_fd, line_buf, (size_t) n);
}

/* The box's cgroup leaf named as a whole component of a cgroup path in `text`. */
static bool
names_cgroup (const char *text, const char *name)
{
  size_t n = strlen (name);

  for (const char *p = strstr (text, name); p; p = strstr (p + 1, name))
    if (p > text && p[-1] == '/' && (p[n] == '\0' || p[n] == '/' || p[n] == ',' || p[n] == ' ' || p[n] == '\n'))
      return true;
  return false;
}

/* Is host pid `pid` a process of the box (its cgroup named in /proc/PID/cgroup)? */
static bool
pid_in_box (const struct view_config *cfg, long pid)
{
  char path[64], buf[4096];

  snprintf (path, sizeof path, "/proc/%ld/cgroup", pid);
  if (nsbox_read_small_file (path, buf, sizeof buf) <= 0)
    return false;
  return names_cgroup (buf, cfg->cgroup_name);
}

static void
remember_pid (struct view_kmsg *k, long pid)
{
  k->oom_pids[k->next_oom_pid++ % (sizeof k->oom_pids / sizeof k->oom_pids[0])] = (int32_t) pid;
}

static bool
remembered (const struct view_kmsg *k, long pid)
{
  for (size_t i = 0; i < sizeof k->oom_pids / sizeof k->oom_pids[0]; i++)
    if (pid > 0 && k->oom_pids[i] == pid)
      return true;
  return false;
}

/* The pid of a fault line, `COMM[PID]: KEYWORD ...` as the kernel prints it, or 0. COMM is
 * the box's to choose (at most 15 bytes), so the pid is taken only where `]: ` is followed by
 * a whole keyword (which does not fit in a COMM with its own `[N]: `), within the reach of a
 * COMM at the start of the line. */
static long
fault_pid (const char *text)
{
  static const char *const keywords[] = { "]: segfault at ", "]: general protection fault ",
                                          "]: general protection ip:", "]: trap ", NULL };

  for (int i = 0; keywords[i]; i++)
    {
      const char *close = strstr (text, keywords[i]);
      const char *open = close;
      long pid;

      if (!close || close - text > 15 + 1 + 10)
        continue;
      while (open > text && open[-1] >= '0' && open[-1] <= '9')
        open--;
      if (open == close || open == text || open[-1] != '[' || open - 1 - text > 15)
        continue;
      pid = strtol (open, NULL, 10);
      if (pid > 0)
        return pid;
    }
  return 0;
}

/* One host record's text: is it about the box? */
static bool
about_box (const struct view_config *cfg, struct view_kmsg *k, const char *text)
{
  const char *p;
  long pid;

  if (cfg->cgroup_name == NULL)
    return false;
  if (strncmp (text, "oom-kill:", 9) == 0)
    {
      /* oom-kill:constraint=...,oom_memcg=/PARENT/BOX,task_memcg=/PARENT/BOX,task=COMM,pid=N,uid=U
       * The memcg is read up to `,task=` (COMM is the box's); the pid is the last `,pid=`. */
      const char *memcg = strstr (text, ",task_memcg=");
      const char *task = memcg ? strstr (memcg, ",task=") : NULL;
      const char *last = NULL;
      char path[512];

      if (!memcg || !task || (size_t) (task - memcg) >= sizeof path)
        return false;
      memcpy (path, memcg, (size_t) (task - memcg));
      path[task - memcg] = '\0';
      if (!names_cgroup (path, cfg->cgroup_name))
        return false;
      for (p = strstr (task, ",pid="); p; p = strstr (p + 1, ",pid="))
        last = p;
      if (last)
        remember_pid (k, strtol (last + 5, NULL, 10));
      return true;
    }
  /* Memory cgroup out of memory: Killed process N (COMM) / oom_reaper: reaped process N (COMM) */
  if (strncmp (text, "Memory cgroup out of memory: Killed process ", 44) == 0)
    return remembered (k, strtol (text + 44, NULL, 10));
  if (strncmp (text, "oom_reaper: reaped process ", 27) == 0)
    return remembered (k, strtol (text + 27, NULL, 10));
  pid = fault_pid (text);
  return pid > 0 && (pid_in_box (cfg, pid) || remembered (k, pid));
}

/* Reads what the host's kernel logged since the last call (host_fd non-blocking), keeping
 * the records about the box. */
void
kmsg_follow_host (const struct view_config *cfg, struct view_kmsg *k, int host_fd)
{
  static char rec[8192];

  for (;;)
    {
      ssize_t n = read (host_fd, rec, sizeof rec - 1);
      unsigned long long seq, ts;
      int prio, used = 0;
      char *text;

      if (n < 0 && errno == EPIPE)
        continue; /* overwritten records: the next read goes on from the oldest left */
      if (n <= 0)
        return;
      rec[n] = '\0';
      if (sscanf (rec, "%d,%llu,%llu,%*[^;];%n", &prio, &seq, &ts, &used) < 3 || used == 0)
        continue;
      /* A respawned server reads the host's buffer from its start: what it saw already is
       * skipped by sequence number. */
      if (k->host_seq_seen && seq <= k->host_seq)
        continue;
      k->host_seq = seq;
      k->host_seq_seen = 1;
      text = rec + used;
      if (about_box (cfg, k, text))
        kmsg_append (k, prio, ts, text, strlen (text));
    }
}

/* A write to the box's /dev/kmsg: `<N>text`, as the kernel takes it (facility user, level
 * warning without a prefix; the box may not claim the kernel's facility). */
void
kmsg_box_write (struct view_kmsg *k, const char *data, size_t len)
{
  int prio = (1 << 3) | 4;
  struct timespec ts;

  if (len >= 3 && data[0] == '<')
    {
      char *end;
      long p = strtol (data + 1, &end, 10);
      if (*end == '>' && p >= 0 && p < 1024)
        {
          prio = (int) p;
          if ((prio >> 3) == 0)
            prio |= 1 << 3;
          len -= (size_t) (end + 1 - data);
          data = end + 1;
        }
    }
  while (len > 0 && data[len - 1] == '\n')
    len--;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  kmsg_append (k, prio, (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000, data, len);
}

/* The record at byte `offset` of the log into buf; its length, 0 at the end, -1 if `offset`
 * is not the start of one (or size too small: EINVAL, as /dev/kmsg says). */
ssize_t
kmsg_record_at (uint64_t offset, char *buf, size_t size)
{
  ssize_t n;
  char *nl;

  if (log_fd < 0)
    return 0;
  n = pread (log_fd, buf, size, (off_t) offset);
  if (n <= 0)
    return n < 0 ? -1 : 0;
  nl = memchr (buf, '\n', (size_t) n);
  if (!nl)
    {
      errno = EINVAL;
      return -1;
    }
  return nl - buf + 1;
}

/* The log's size: where a reader opened with SEEK_END starts, and what a blocked reader
 * waits to grow. */
uint64_t
kmsg_size (void)
{
  struct stat st;

  return log_fd >= 0 && fstat (log_fd, &st) == 0 ? (uint64_t) st.st_size : 0;
}
