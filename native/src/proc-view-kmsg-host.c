/* Which of the host kernel's log records are about the box (proc-view-kmsg.c keeps them in
 * the box's own log). Only the kernel's own records (facility 0: what a process writes to the
 * host's /dev/kmsg is facility user at least) are looked at, and of those:
 *   - an OOM kill in the box's memory cgroup: the `oom-kill:` line names the cgroup, the
 *     `Memory cgroup out of memory: Killed process N` and `oom_reaper` lines follow by pid;
 *   - a report whose first line names a process of the box, with the lines that continue it:
 *       `COMM[PID]: segfault at ...` (general protection, trap), then `Code: ...`;
 *       `INFO: task COMM:PID blocked for more than N seconds.`, then the hint to turn the
 *       message off, `task:COMM state:D ... pid:PID ...`, `Call Trace:`, the indented frames
 *       and the user registers of the task's syscall.
 * Each printk line is a record of its own. With CONFIG_PRINTK_CALLER a record names the
 * thread that printed it (`caller=T123`), and a continuation is a record of the same caller;
 * without it (this host's Debian kernel), a continuation is the host's very next record: one
 * from elsewhere in between ends the report, so a line of another report is never taken.
 * A continuation must also look like one (indented, or one of the few lines the reports
 * above print); anything else ends the report. Lines of the report that show the host (its
 * kernel version on `Tainted:`, a kernel address) belong to it but are withheld. */
#include "proc-view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many continuation lines per report: a trace is rarely longer. */
#define REPORT_MAX_LINES 96

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

/* Is host pid `pid` a process of the box (its cgroup named in /proc/PID/cgroup)? A recorded
 * report replayed by `nsbox-proc-view --attribute PIDS` takes those pids as the box's. */
static bool
pid_in_box (const struct view_config *cfg, long pid)
{
  char path[64], buf[4096];

  if (cfg->attribute_pids)
    {
      for (const char *p = cfg->attribute_pids; *p;)
        {
          char *end;
          long listed = strtol (p, &end, 10);
          if (end == p)
            break;
          if (listed == pid)
            return true;
          p = *end == ',' ? end + 1 : end;
        }
      return false;
    }
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

/* The decimal number that ends right before `at` and starts after `sep`, with everything
 * before `sep` within reach of a COMM (at most 15 bytes, the box's to choose) after
 * `prefix_len` bytes of fixed text; 0 when there is none. `at` is the first occurrence of a
 * text that cannot fit in a COMM with its own separator and pid, so a COMM cannot fake it. */
static long
pid_before (const char *text, const char *at, size_t prefix_len, char sep)
{
  const char *digits = at;

  if (!at || (size_t) (at - text) > prefix_len + 15 + 1 + 10)
    return 0;
  while (digits > text && digits[-1] >= '0' && digits[-1] <= '9')
    digits--;
  if (digits == at || digits == text || digits[-1] != sep || (size_t) (digits - 1 - text) > prefix_len + 15)
    return 0;
  return strtol (digits, NULL, 10);
}

/* The pid of a report's first line about one process, or 0. */
static long
report_pid (const char *text)
{
  static const char *const faults[] = { "]: segfault at ", "]: general protection fault ", "]: general protection ip:", "]: trap ", NULL };
  static const char hung[] = "INFO: task ";
  long pid;

  for (int i = 0; faults[i]; i++)
    if ((pid = pid_before (text, strstr (text, faults[i]), 0, '[')) > 0)
      return pid;
  /* INFO: task COMM:PID blocked for more than N seconds. */
  if (strncmp (text, hung, sizeof hung - 1) == 0)
    return pid_before (text, strstr (text, " blocked for more than "), sizeof hung - 1, ':');
  return 0;
}

/* Does `text` show something of the host: its kernel version, or a kernel address? */
static bool
shows_host (const char *text)
{
  const char *p = text;

  while (*p == ' ' || *p == '\t')
    p++;
  if (strncmp (p, "Tainted:", 8) == 0 || strncmp (p, "Not tainted", 11) == 0)
    return true;
  for (p = strstr (text, "ffff"); p; p = strstr (p + 1, "ffff"))
    {
      size_t n = strspn (p, "0123456789abcdef");
      if (n >= 16)
        return true;
    }
  return false;
}

enum continuation { ENDS, CONTINUES, WITHHELD };

/* Is `text` a line of the open report (about pid `pid`)? */
static enum continuation
continues (const char *text, long pid)
{
  static const char *const lines[] = {
    "Call Trace:",
    "Code: ",
    "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
    /* A user task's registers at its syscall (user code segments 0x33, 0x23; stack 0x2b). */
    "RIP: 0033:", "RIP: 0023:", "RSP: 002b:", "RAX: ", "RDX: ", "RBP: ", "R10: ", "R13: ",
    NULL,
  };
  const char *field;

  /* task:COMM state:D stack:0 pid:PID ...: only the report's own task (a blocker's is not). */
  if (strncmp (text, "task:", 5) == 0)
    {
      field = strstr (text, " pid:");
      if (!field)
        return ENDS;
      field += 5;
      while (*field == ' ')
        field++;
      return strtol (field, NULL, 10) == pid ? CONTINUES : ENDS;
    }
  if (text[0] != ' ' && text[0] != '\t')
    {
      int i;
      for (i = 0; lines[i] && strncmp (text, lines[i], strlen (lines[i])) != 0; i++)
        ;
      if (!lines[i])
        return ENDS;
    }
  return shows_host (text) ? WITHHELD : CONTINUES;
}

/* The first line of a record about the box? Opens its report when it has one. */
static bool
starts_about_box (const struct view_config *cfg, struct view_kmsg *k, const char *text)
{
  const char *p;
  long pid;

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
  pid = report_pid (text);
  if (pid <= 0 || !(pid_in_box (cfg, pid) || remembered (k, pid)))
    return false;
  k->report_pid = (int32_t) pid;
  k->report_lines = 0;
  return true;
}

/* The `caller=` field of a record's prefix (`T123`, `C1`), empty without one. */
static void
caller_of (const char *rec, size_t prefix_len, char *out, size_t size)
{
  const char *field = memmem (rec, prefix_len, ",caller=", 8);
  size_t n = 0;

  if (field)
    for (field += 8; n + 1 < size && field < rec + prefix_len && *field != ',' && *field != ';'; field++)
      out[n++] = *field;
  out[n] = '\0';
}

void
kmsg_host_record (const struct view_config *cfg, struct view_kmsg *k, char *rec)
{
  unsigned long long seq, ts;
  int prio, used = 0;
  char caller[sizeof k->report_caller];
  const char *text;
  bool next_in_line;

  if (sscanf (rec, "%d,%llu,%llu,%*[^;];%n", &prio, &seq, &ts, &used) < 3 || used == 0)
    return;
  /* A respawned server reads the host's buffer from its start: what it saw already is
   * skipped by sequence number. */
  if (k->host_seq_seen && seq <= k->host_seq)
    return;
  next_in_line = k->host_seq_seen && seq == k->host_seq + 1;
  k->host_seq = seq;
  k->host_seq_seen = 1;
  text = rec + used;
  rec[strcspn (rec, "\n")] = '\0';
  if (cfg->cgroup_name == NULL || (prio >> 3) != 0)
    {
      k->report_pid = 0;
      return;
    }
  caller_of (rec, (size_t) used, caller, sizeof caller);
  if (k->report_pid > 0)
    {
      bool same_caller = caller[0] && strcmp (caller, k->report_caller) == 0;
      if (caller[0] && k->report_caller[0] && !same_caller)
        {
          /* Another thread's line amid the report: not the box's, and the report goes on. */
          if (starts_about_box (cfg, k, text))
            {
              kmsg_append (k, prio, ts, text, strlen (text));
              snprintf (k->report_caller, sizeof k->report_caller, "%s", caller);
            }
          return;
        }
      if (same_caller || next_in_line)
        {
          enum continuation c = k->report_lines < REPORT_MAX_LINES ? continues (text, k->report_pid) : ENDS;
          if (c != ENDS)
            {
              k->report_lines++;
              if (c == CONTINUES)
                kmsg_append (k, prio, ts, text, strlen (text));
              return;
            }
        }
      k->report_pid = 0;
    }
  if (starts_about_box (cfg, k, text))
    {
      kmsg_append (k, prio, ts, text, strlen (text));
      snprintf (k->report_caller, sizeof k->report_caller, "%s", caller);
    }
}
