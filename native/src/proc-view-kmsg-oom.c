/* An OOM report in the box's kernel log. The kernel prints it under its oom_lock (so reports
 * never interleave with each other) in this order (mm/oom_kill.c dump_header, mm/memcontrol.c):
 *   COMM invoked oom-killer: gfp_mask=..., order=N, oom_score_adj=N
 *   CPU: N UID: N PID: N Comm: COMM Tainted: ... RELEASE #VERSION     (the invoking task)
 *   Hardware name: ..., Call Trace:, frames, kernel registers, the user registers at its syscall
 *   a memory cgroup's OOM (constraint CONSTRAINT_MEMCG):
 *     memory: usage NkB, limit NkB, failcnt N
 *     swap: usage ...                       (v2), or  memory+swap: usage ...  kmem: usage ... (v1)
 *     Memory cgroup stats for /PATH:        then one `KEY VALUE` record per figure of its memory.stat
 *   or the whole host's (global_oom): Mem-Info:, zone and node lists, swap, slab figures
 *   Tasks state (memory values in pages):
 *   [  pid  ]   uid  tgid total_vm      rss ... name           then a `[   PID] ...` row per task
 *   oom-kill:constraint=...,oom_memcg=/PATH,task_memcg=/PATH,task=COMM,pid=N,uid=N
 * Only the `oom-kill:` line says whose the report is, and it comes last: the lines before it
 * are held (in this process) and given to the box once that line names the box's cgroup
 * (oom_memcg= or task_memcg=), dropped otherwise. What is held is already sorted as it comes:
 *   - the header and trace, when the invoking task (the `CPU:` line's pid) is the box's, or
 *     has exited and is the victim; its `CPU:` line up to the taint and kernel version, and
 *     never the kernel's registers, an address, a module, the hardware (kmsg_dump_line);
 *   - the cgroup's figures, when `Memory cgroup stats for` names the box's cgroup (a parent's
 *     figures are the parent's, and the host's Mem-Info is the host's: withheld);
 *   - the task table's heading and the rows of the box's processes: all of them when the
 *     table is of the box's cgroup, else those whose pid is the box's, or the victim's.
 * Bounded: a report ends at its `oom-kill:` line, at a line that is not one of the report's
 * (with no CONFIG_PRINTK_CALLER, a line from elsewhere in between; nothing held is given), a
 * record missed, after OOM_MAX_LINES records or OOM_MAX_USEC; at most HELD_LINES lines of
 * HELD_TEXT bytes are held (what does not fit is not given). The first record's number is in
 * the shared page: a respawned server reads the host's log again from there and holds the
 * report again. */
#include "proc-view-kmsg-host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM_MAX_LINES (1 << 16)      /* a host's whole task table in a global OOM */
#define OOM_MAX_USEC (10 * 1000000ull) /* the kernel prints a report in far less */
#define HELD_LINES 1024
#define HELD_TEXT (48 * 1024)

enum section
{
  SECTION_HEADER,
  SECTION_MEMCG,
  SECTION_STATS,
  SECTION_HOST_MEMORY,
  SECTION_TASKS,
};

/* What decides whether a held line is given. */
enum held_class
{
  HELD_HEADER, /* the invoking task's */
  HELD_MEMCG,  /* the OOM cgroup's usage and limits (before its name) */
  HELD_GIVEN,  /* the box's, whoever the report turns out to be */
  HELD_VICTIM, /* a row of a task gone since: given if it is the victim */
};

struct held_line
{
  uint64_t ts;
  int32_t prio, pid;
  uint32_t off, len;
  enum held_class cls;
};

static struct
{
  bool open;
  uint64_t first_seq, last_seq, first_ts;
  char caller[sizeof ((struct view_kmsg *) 0)->report_caller];
  enum section section;
  uint32_t records;
  bool kernel_regs;
  long invoker;                 /* the `CPU:` line's pid, 0: none yet */
  enum pid_owner invoker_owner; /* whose it was when read */
  int memcg;                    /* the OOM cgroup is the box's: 1, not: 0, not known yet: -1 */
  bool stats_box;               /* the figures being printed are of the box's cgroup */
  struct held_line *lines;      /* HELD_LINES, then HELD_TEXT bytes of text */
  uint32_t n_lines, text_len;
} O;

static void
close_report (struct view_kmsg *k)
{
  free (O.lines);
  memset (&O, 0, sizeof O);
  k->held_seq = 0;
}

static void
hold (const struct host_record *r, enum held_class cls, long pid, size_t len)
{
  char *text;

  if (!O.lines && !(O.lines = malloc (HELD_LINES * sizeof *O.lines + HELD_TEXT)))
    return;
  text = (char *) (O.lines + HELD_LINES);
  if (O.n_lines == HELD_LINES || len > HELD_TEXT - O.text_len)
    return;
  memcpy (text + O.text_len, r->text, len);
  O.lines[O.n_lines++] = (struct held_line){
    .ts = r->ts, .prio = r->prio, .pid = (int32_t) pid, .off = O.text_len, .len = (uint32_t) len, .cls = cls,
  };
  O.text_len += (uint32_t) len;
}

static void
open_report (struct view_kmsg *k, const struct host_record *r)
{
  close_report (k);
  O.open = true;
  O.first_seq = O.last_seq = r->seq;
  O.first_ts = r->ts;
  snprintf (O.caller, sizeof O.caller, "%s", r->caller);
  O.section = SECTION_HEADER;
  O.memcg = -1;
  k->held_seq = r->seq;
  hold (r, HELD_HEADER, 0, strlen (r->text));
}

/* The `oom-kill:` line: the held lines given when it names the box. */
static void
release (const struct view_config *cfg, struct view_kmsg *k, const char *text)
{
  long victim;
  bool header;

  if (!kmsg_oom_kill_names_box (cfg, text, &victim))
    return;
  header = O.invoker > 0 && (O.invoker_owner == PID_IN_BOX || (O.invoker_owner == PID_GONE && O.invoker == victim));
  for (uint32_t i = 0; i < O.n_lines; i++)
    {
      const struct held_line *l = &O.lines[i];
      bool give = l->cls == HELD_GIVEN || (l->cls == HELD_HEADER && header) || (l->cls == HELD_MEMCG && O.memcg == 1)
                  || (l->cls == HELD_VICTIM && l->pid == victim);
      if (give)
        kmsg_append (k, l->prio, l->ts, (const char *) (O.lines + HELD_LINES) + l->off, l->len);
    }
}

/* `KEY VALUE`, a figure of a memory.stat (`anon 1234`, `total_rss 0`); older kernels printed
 * the whole block as one record, its lines escaped (`\x0a`). */
static bool
stat_line (const char *text)
{
  for (const char *p = text;;)
    {
      size_t key = strspn (p, "abcdefghijklmnopqrstuvwxyz0123456789_"), value;
      if (key == 0 || p[key] != ' ')
        return false;
      value = strspn (p + key + 1, "0123456789");
      if (value == 0)
        return false;
      p += key + 1 + value;
      if (*p == '\0')
        return true;
      if (strncmp (p, "\\x0a", 4) != 0)
        return false;
      p += 4;
      if (*p == '\0')
        return true;
    }
}

/* `[  PID]   UID  TGID ...`: a task table row's pid, or 0. */
static long
row_pid (const char *text)
{
  char *end;
  long pid;

  if (text[0] != '[')
    return 0;
  pid = strtol (text + 1, &end, 10);
  return end != text + 1 && *end == ']' ? pid : 0;
}

/* One record of the open report: held, withheld, or (false) not the report's: it ends. */
static bool
takes (const struct view_config *cfg, const struct host_record *r)
{
  const char *text = r->text;
  size_t len = strlen (text), keep;
  long pid;

  if (++O.records > OOM_MAX_LINES || r->ts - O.first_ts > OOM_MAX_USEC)
    return false;
  /* A new part of the report, from whichever came before. */
  if (strncmp (text, "memory: usage ", 14) == 0)
    {
      O.section = SECTION_MEMCG;
      hold (r, HELD_MEMCG, 0, len);
      return true;
    }
  if (strncmp (text, "Mem-Info:", 9) == 0)
    {
      O.section = SECTION_HOST_MEMORY;
      return true;
    }
  if (strcmp (text, "Tasks state (memory values in pages):") == 0)
    {
      O.section = SECTION_TASKS;
      hold (r, HELD_GIVEN, 0, len);
      return true;
    }
  if (strncmp (text, "Memory cgroup stats for ", 24) == 0 && (O.section == SECTION_MEMCG || O.section == SECTION_STATS))
    {
      O.stats_box = kmsg_box_path_at (cfg, text + 24);
      if (O.memcg < 0)
        O.memcg = O.stats_box;
      O.section = SECTION_STATS;
      if (O.stats_box)
        hold (r, HELD_GIVEN, 0, len);
      return true;
    }
  switch (O.section)
    {
    case SECTION_HEADER:
      if ((pid = kmsg_cpu_line (text, &keep)) > 0)
        {
          O.invoker = pid;
          O.invoker_owner = kmsg_pid_owner (cfg, pid);
          if (keep > 0)
            hold (r, HELD_HEADER, 0, keep);
          return true;
        }
      switch (kmsg_dump_line (text, &O.kernel_regs))
        {
        case DUMP_GIVE:
          if (O.invoker == 0 || O.invoker_owner != PID_ELSEWHERE) /* another's trace is never given: not held */
            hold (r, HELD_HEADER, 0, len);
          return true;
        case DUMP_WITHHOLD:
          return true;
        case DUMP_NOT:
          return false;
        }
      return false;
    case SECTION_MEMCG:
      if (strncmp (text, "swap: usage ", 12) == 0 || strncmp (text, "memory+swap: usage ", 19) == 0
          || strncmp (text, "kmem: usage ", 12) == 0)
        {
          hold (r, HELD_MEMCG, 0, len);
          return true;
        }
      return false;
    case SECTION_STATS:
      if (!stat_line (text))
        return false;
      if (O.stats_box)
        hold (r, HELD_GIVEN, 0, len);
      return true;
    case SECTION_HOST_MEMORY:
      /* The host's memory, zones, swap and slabs, in many shapes: withheld, all of it. */
      return true;
    case SECTION_TASKS:
      if (strncmp (text, "[  pid  ]", 9) == 0)
        {
          hold (r, HELD_GIVEN, 0, len);
          return true;
        }
      if ((pid = row_pid (text)) <= 0)
        return false;
      if (O.memcg == 1)
        hold (r, HELD_GIVEN, pid, len); /* the table of the box's cgroup: its tasks alone */
      else
        switch (kmsg_pid_owner (cfg, pid))
          {
          case PID_IN_BOX:
            hold (r, HELD_GIVEN, pid, len);
            break;
          case PID_GONE:
            hold (r, HELD_VICTIM, pid, len);
            break;
          case PID_ELSEWHERE:
            break;
          }
      return true;
    }
  return false;
}

bool
kmsg_oom_starts (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r)
{
  /* COMM invoked oom-killer: gfp_mask=...: the COMM (at most 15 bytes) comes first, and the
   * text after it cannot fit in one. */
  const char *at = strstr (r->text, " invoked oom-killer: gfp_mask=");

  (void) cfg;
  if ((r->prio >> 3) != 0 || !at || at == r->text || at - r->text > 15)
    return false;
  open_report (k, r);
  return true;
}

bool
kmsg_oom_takes (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r)
{
  bool same_caller;

  if (!k->held_seq)
    return false;
  if (!O.open || O.first_seq != k->held_seq)
    {
      /* Held by a dead server, and not found again in the host's log (overwritten since). */
      close_report (k);
      return false;
    }
  same_caller = r->caller[0] && strcmp (r->caller, O.caller) == 0;
  if (r->caller[0] && O.caller[0] && !same_caller)
    return false; /* another thread's line amid the report: neither ends it nor joins it */
  O.last_seq = r->seq;
  if ((r->prio >> 3) == 0 && (same_caller || r->next_in_line))
    {
      if (strncmp (r->text, "oom-kill:", 9) == 0)
        release (cfg, k, r->text);
      else if (takes (cfg, r))
        return true;
    }
  close_report (k);
  return false;
}

void
kmsg_oom_replay (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r)
{
  if (r->seq == k->held_seq)
    {
      if (!O.open || O.first_seq != r->seq)
        open_report (k, r);
      return;
    }
  if (!O.open || O.first_seq != k->held_seq || r->seq <= O.last_seq)
    return;
  if (r->caller[0] && O.caller[0] && strcmp (r->caller, O.caller) != 0)
    return;
  O.last_seq = r->seq;
  if (!takes (cfg, r))
    close_report (k);
}
