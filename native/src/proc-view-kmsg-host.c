/* Which of the host kernel's log records are about the box (proc-view-kmsg.c keeps them in
 * the box's own log). Only the kernel's own records (facility 0: what a process writes to the
 * host's /dev/kmsg is facility user at least) are looked at, and of those:
 *   - an OOM kill in the box's memory cgroup: the `oom-kill:` line names the cgroup, the
 *     `Killed process N` and `oom_reaper` lines follow by pid; the report the kernel printed
 *     before it (header, trace, the cgroup's figures, the task table) is held until that line
 *     says whose it is (proc-view-kmsg-oom.c);
 *   - a report whose first line names a process of the box, with the lines that continue it:
 *       `COMM[PID]: segfault at ...` (general protection, trap), then `Code: ...`;
 *       `INFO: task COMM:PID blocked for more than N seconds.`, then the hint to turn the
 *       message off, `task:COMM state:D ... pid:PID ...`, `Call Trace:`, the indented frames
 *       and the user registers of the task's syscall;
 *       `WARNING: CPU: N PID: PID at FILE:LINE FUNC`, then the kernel's stack dump of that
 *       task (its `CPU:` line, registers, `Call Trace:`, frames) up to `---[ end trace ]---`,
 *       with the `cut here` line and the WARN's message printed before it (kept aside);
 * Each printk line is a record of its own. With CONFIG_PRINTK_CALLER a record names the
 * thread that printed it (`caller=T123`), and a continuation is a record of the same caller;
 * without it (this host's Debian kernel), a continuation is the host's very next record: one
 * from elsewhere in between ends the report, so a line of another report is never taken.
 * A continuation must also look like one (indented, or one of the few lines the reports
 * above print); anything else ends the report. Lines of the report that show the host (its
 * kernel version, a kernel address, the kernel's registers, its modules) belong to it but are
 * withheld; a `CPU:` line is given up to its taint and version. */
#include "proc-view-kmsg-host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this many continuation lines per report: a trace is rarely longer. */
#define REPORT_MAX_LINES 96

bool
kmsg_names_cgroup (const char *text, const char *name)
{
  size_t n = strlen (name);

  for (const char *p = strstr (text, name); p; p = strstr (p + 1, name))
    if (p > text && p[-1] == '/' && (p[n] == '\0' || p[n] == '/' || p[n] == ',' || p[n] == ' ' || p[n] == ':' || p[n] == '\n'))
      return true;
  return false;
}

static bool
ends_component (char c)
{
  return c == '\0' || c == '/' || c == ',' || c == ' ' || c == ':' || c == '\n';
}

/* The box's cgroup directory (its memory files'), or NULL (--attribute): `*len` bytes. */
static const char *
box_dir (const struct view_config *cfg, size_t *len)
{
  const char *file = cfg->memory_usage, *slash = file ? strrchr (file, '/') : NULL;

  *len = slash ? (size_t) (slash - file) : 0;
  return slash ? file : NULL;
}

bool
kmsg_box_path_at (const struct view_config *cfg, const char *p)
{
  size_t len, n;
  const char *dir = box_dir (cfg, &len), *comma;
  char path[1024];

  if (*p != '/')
    return false;
  if (!dir)
    {
      /* No directory to compare with (a replay): the leaf, as a component up to the next `,`. */
      comma = strchr (p, ',');
      n = comma ? (size_t) (comma - p) : strlen (p);
      if (n >= sizeof path)
        return false;
      memcpy (path, p, n);
      path[n] = '\0';
      return kmsg_names_cgroup (path, cfg->cgroup_name);
    }
  /* The kernel prints the path from its hierarchy's root, which is where the directory's end
   * begins (after its mount point): one of its ends from a slash, then the path's own end or a
   * cgroup below. A box names only cgroups below its own (`/PARENT/A/...`), and no end of
   * another box's directory starts so. */
  for (const char *s = dir; s < dir + len; s++)
    if (*s == '/' && strncmp (p, s, (size_t) (dir + len - s)) == 0 && ends_component (p[dir + len - s]))
      return true;
  return false;
}

/* Is `p` (length `n`) the path of a cgroup above the box's: `/`, or the start of one of its
 * directory's ends up to a slash? */
static bool
above_box (const struct view_config *cfg, const char *p, size_t n)
{
  size_t len;
  const char *dir = box_dir (cfg, &len);

  if ((n == 1 && p[0] == '/') || (!dir && n > 0 && p[0] == '/'))
    return true; /* the root; or, with no directory to compare with, any (the box's leaf follows) */
  for (const char *s = dir; dir && s < dir + len; s++)
    if (*s == '/' && (size_t) (dir + len - s) > n && strncmp (p, s, n) == 0 && s[n] == '/')
      return true;
  return false;
}

/* Has host pid `pid` exited: no /proc/PID, or a zombie (whose cgroup no longer says)? */
static bool
pid_gone (long pid)
{
  char path[64], buf[512];
  const char *state;

  snprintf (path, sizeof path, "/proc/%ld/stat", pid);
  if (nsbox_read_small_file (path, buf, sizeof buf) <= 0)
    return access (path, F_OK) < 0;
  state = strrchr (buf, ')');
  return state && (state[2] == 'Z' || state[2] == 'X');
}

/* Whose is host pid `pid`: the box's (its cgroup named in /proc/PID/cgroup), gone, or
 * another's. A recorded report replayed by `nsbox-proc-view --attribute PIDS` takes those
 * pids as the box's, and a pid listed negated as one of the box's that is gone. */
enum pid_owner
kmsg_pid_owner (const struct view_config *cfg, long pid)
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
          if (listed == pid || listed == -pid)
            return listed == pid ? PID_IN_BOX : PID_GONE;
          p = *end == ',' ? end + 1 : end;
        }
      return PID_ELSEWHERE;
    }
  snprintf (path, sizeof path, "/proc/%ld/cgroup", pid);
  if (nsbox_read_small_file (path, buf, sizeof buf) > 0)
    /* ID:CONTROLLERS:/PATH, a line per hierarchy */
    for (char *line = buf, *next; line && *line; line = next)
      {
        char *at = strchr (line, ':');
        next = strchr (line, '\n');
        if (next)
          *next++ = '\0';
        if (at && (at = strchr (at + 1, ':')) && kmsg_box_path_at (cfg, at + 1))
          return PID_IN_BOX;
      }
  return pid_gone (pid) ? PID_GONE : PID_ELSEWHERE;
}

static bool
pid_in_box (const struct view_config *cfg, long pid)
{
  return kmsg_pid_owner (cfg, pid) == PID_IN_BOX;
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

/* The kinds of report about one process: how they go on (view_kmsg.report_kind, with a bit
 * for kernel registers shown last). */
enum report_kind
{
  REPORT_FAULT = 1, /* segfault, general protection, trap; a hung task */
  REPORT_WARNING,
  REPORT_KERNEL_REGS = 0x100,
};

/* The pid of a report's first line about one process, or 0; its kind. */
static long
report_pid (const char *text, uint32_t *kind)
{
  static const char *const faults[] = { "]: segfault at ", "]: general protection fault ", "]: general protection ip:", "]: trap ", NULL };
  static const char hung[] = "INFO: task ", warning[] = "WARNING: CPU: ";
  char *end;
  long pid;

  *kind = REPORT_FAULT;
  for (int i = 0; faults[i]; i++)
    if ((pid = pid_before (text, strstr (text, faults[i]), 0, '[')) > 0)
      return pid;
  /* INFO: task COMM:PID blocked for more than N seconds. */
  if (strncmp (text, hung, sizeof hung - 1) == 0)
    return pid_before (text, strstr (text, " blocked for more than "), sizeof hung - 1, ':');
  /* WARNING: CPU: N PID: N at FILE:LINE FUNC+0x.../0x... (kernel text before the pid: no COMM) */
  if (strncmp (text, warning, sizeof warning - 1) == 0)
    {
      strtol (text + sizeof warning - 1, &end, 10);
      if (strncmp (end, " PID: ", 6) != 0)
        return 0;
      pid = strtol (end + 6, &end, 10);
      *kind = REPORT_WARNING;
      return strncmp (end, " at ", 4) == 0 ? pid : 0;
    }
  return 0;
}

/* Does `text` show something of the host: its kernel version, a kernel address, a module? */
bool
kmsg_shows_host (const char *text)
{
  const char *p = text;
  size_t len = strlen (text);

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
  /* A frame in a module: ` func+0x1/0x2 [module]` (the host's modules are its own). */
  if ((text[0] == ' ' || text[0] == '\t') && len > 3 && text[len - 1] == ']')
    {
      p = strrchr (text, '[');
      if (p && p > text && p[-1] == ' ' && ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') || p[1] == '_'))
        return true;
    }
  return false;
}

static bool
starts_with_any (const char *text, const char *const *prefixes)
{
  for (int i = 0; prefixes[i]; i++)
    if (strncmp (text, prefixes[i], strlen (prefixes[i])) == 0)
      return true;
  return false;
}

enum dump_line
kmsg_dump_line (const char *text, bool *kernel_regs)
{
  /* What the host is, not the task: its hardware, taint, modules, lock state, control registers. */
  static const char *const host[] = {
    "Hardware name:", "Workqueue:", "Stopper:", "Tainted:", "Modules linked in:", "irq event stamp:",
    "hardirqs last", "softirqs last", "FS: ", "CS: ", "CR2: ", "DR0: ", "DR3: ", "DR6: ", "PKRU: ",
    "COMPACTION is disabled", NULL,
  };
  /* General registers after a `RIP:` line, and the code bytes at it. */
  static const char *const regs[] = { "Code: ", "RSP: ", "RAX: ", "RDX: ", "RBP: ", "R10: ", "R13: ", NULL };

  if (strncmp (text, "Call Trace:", 11) == 0)
    return DUMP_GIVE;
  if (strncmp (text, "RIP: ", 5) == 0)
    /* User code segments 0x33 and 0x23 (x86-64, compat): a user task's registers at its syscall. */
    *kernel_regs = strncmp (text, "RIP: 0033:", 10) != 0 && strncmp (text, "RIP: 0023:", 10) != 0;
  else if (!starts_with_any (text, regs))
    {
      if (starts_with_any (text, host))
        return DUMP_WITHHOLD;
      if (text[0] != ' ' && text[0] != '\t')
        return DUMP_NOT;
      /* A frame: ` func+0x12/0x34`, ` ? func+...`, ` <TASK>`; other indented text (a module
       * list going on) is the host's. */
      return (strstr (text, "+0x") || strchr (text, '<')) && !kmsg_shows_host (text) ? DUMP_GIVE : DUMP_WITHHOLD;
    }
  return *kernel_regs || kmsg_shows_host (text) ? DUMP_WITHHOLD : DUMP_GIVE;
}

long
kmsg_cpu_line (const char *text, size_t *keep)
{
  /* CPU: %d [UID: %u ]PID: %d Comm: %.20s [Kdump: loaded ]{Not tainted|Tainted: ...} RELEASE VERSION */
  static const char *const tails[] = { " Kdump: loaded ", " Not tainted", " Tainted: ", NULL };
  const char *pid = strstr (text, " PID: "), *comm;
  char *end;
  long n;

  *keep = 0;
  if (strncmp (text, "CPU: ", 5) != 0 || !pid || pid - text > 32)
    return 0;
  n = strtol (pid + 6, &end, 10);
  if (strncmp (end, " Comm: ", 7) != 0)
    return 0;
  comm = end + 7;
  /* The first tail after the COMM: one the COMM (the box's to name) carries only cuts sooner. */
  for (int i = 0; tails[i]; i++)
    {
      const char *at = strstr (comm, tails[i]);
      if (at && (*keep == 0 || (size_t) (at - text) < *keep))
        *keep = (size_t) (at - text);
    }
  return n;
}

enum continuation
{
  ENDS,
  CONTINUES,
  WITHHELD,
  LAST, /* given, and the report ends with it */
};

/* Is `text` a line of the open report about a fault or a hung task (about pid `pid`)? */
static enum continuation
fault_continues (const char *text, long pid)
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
  if (text[0] != ' ' && text[0] != '\t' && !starts_with_any (text, lines))
    return ENDS;
  return kmsg_shows_host (text) ? WITHHELD : CONTINUES;
}

/* Is `text` a line of the open WARNING report about pid `pid`? `give`: how much of it. */
static enum continuation
warning_continues (struct view_kmsg *k, const char *text, long pid, size_t *give)
{
  bool kernel_regs = (k->report_kind & REPORT_KERNEL_REGS) != 0;
  size_t keep;
  long cpu_pid;

  if (strncmp (text, "---[ end trace ", 15) == 0)
    return LAST;
  if ((cpu_pid = kmsg_cpu_line (text, &keep)) > 0)
    {
      *give = keep;
      return cpu_pid != pid ? ENDS : keep > 0 ? CONTINUES : WITHHELD;
    }
  switch (kmsg_dump_line (text, &kernel_regs))
    {
    case DUMP_GIVE:
      break;
    case DUMP_WITHHOLD:
      k->report_kind = (k->report_kind & ~(uint32_t) REPORT_KERNEL_REGS) | (kernel_regs ? REPORT_KERNEL_REGS : 0);
      return WITHHELD;
    case DUMP_NOT:
      return ENDS;
    }
  k->report_kind = (k->report_kind & ~(uint32_t) REPORT_KERNEL_REGS) | (kernel_regs ? REPORT_KERNEL_REGS : 0);
  return CONTINUES;
}

bool
kmsg_oom_kill_names_box (const struct view_config *cfg, const char *text, long *victim)
{
  /* oom-kill:constraint=...,cpuset=NAME,mems_allowed=...,oom_memcg=/PATH,task_memcg=/PATH,task=COMM,pid=N,uid=U
   * (global_oom for a global OOM). Cgroup names may be a box's own (below its cgroup): the
   * first `,oom_memcg=/` is the kernel's (the cpuset's NAME has no slash), its path is the
   * box's when it starts with the box's; a parent's is followed by `,task_memcg=` and the
   * box's. The pid is the last `,pid=` (COMM is the box's). */
  const char *oom = strstr (text, ",oom_memcg=/"), *global = strstr (text, ",global_oom,task_memcg=/"), *last = NULL;

  *victim = 0;
  if (strncmp (text, "oom-kill:", 9) != 0)
    return false;
  for (const char *p = strstr (text, ",pid="); p; p = strstr (p + 1, ",pid="))
    last = p;
  if (last)
    *victim = strtol (last + 5, NULL, 10);
  if (oom)
    {
      oom += 11;
      if (kmsg_box_path_at (cfg, oom))
        return true;
      for (const char *task = strstr (oom, ",task_memcg=/"); task; task = strstr (task + 1, ",task_memcg=/"))
        if (above_box (cfg, oom, (size_t) (task - oom)) && kmsg_box_path_at (cfg, task + 12))
          return true;
      return false;
    }
  return global && kmsg_box_path_at (cfg, global + 23);
}

/* The first line of a record about the box? Opens its report when it has one. */
static bool
starts_about_box (const struct view_config *cfg, struct view_kmsg *k, const char *text)
{
  static const char killed[] = "Memory cgroup out of memory: Killed process ", killed_global[] = "Out of memory: Killed process ",
                    reaped[] = "oom_reaper: reaped process ";
  uint32_t kind;
  long pid;

  if (strncmp (text, "oom-kill:", 9) == 0)
    {
      if (!kmsg_oom_kill_names_box (cfg, text, &pid))
        return false;
      if (pid > 0)
        remember_pid (k, pid);
      return true;
    }
  /* Memory cgroup out of memory: Killed process N (COMM) / oom_reaper: reaped process N (COMM) */
  if (strncmp (text, killed, sizeof killed - 1) == 0)
    return remembered (k, strtol (text + sizeof killed - 1, NULL, 10));
  if (strncmp (text, killed_global, sizeof killed_global - 1) == 0)
    return remembered (k, strtol (text + sizeof killed_global - 1, NULL, 10));
  if (strncmp (text, reaped, sizeof reaped - 1) == 0)
    return remembered (k, strtol (text + sizeof reaped - 1, NULL, 10));
  pid = report_pid (text, &kind);
  if (pid <= 0 || !(pid_in_box (cfg, pid) || remembered (k, pid)))
    return false;
  k->report_pid = (int32_t) pid;
  k->report_kind = kind;
  k->report_lines = 0;
  return true;
}

/* What x86-64 prints before a WARNING line (__warn_printk: the `cut here` line, then the
 * WARN's message): kept aside, in this process only, until the WARNING line says whose task
 * it was; given before it when that is the box's and the kernel names the printing thread. A
 * message has no form of its own: without the thread named, a line from elsewhere would look
 * like one, so only a `cut here` line right before the WARNING line is given. */
#define CUT_LINES 4
static struct
{
  bool open;
  uint64_t next_seq;
  char caller[sizeof ((struct view_kmsg *) 0)->report_caller];
  int n;
  struct
  {
    int prio;
    uint64_t ts;
    char text[512];
  } line[CUT_LINES];
} cut;

static void
cut_observe (const struct host_record *r)
{
  bool same_caller = r->caller[0] && strcmp (r->caller, cut.caller) == 0;

  if (strcmp (r->text, "------------[ cut here ]------------") == 0)
    {
      cut.open = true, cut.n = 0;
      snprintf (cut.caller, sizeof cut.caller, "%s", r->caller);
    }
  else if (!cut.open || (r->caller[0] && cut.caller[0] && !same_caller) || strncmp (r->text, "WARNING: ", 9) == 0)
    return; /* none open, another thread's line, or the WARNING line (starts judges it) */
  else if (!(same_caller || r->seq == cut.next_seq) || cut.n == CUT_LINES)
    {
      cut.open = false; /* a line from elsewhere, or too long a message */
      return;
    }
  cut.next_seq = r->seq + 1;
  cut.line[cut.n].prio = r->prio, cut.line[cut.n].ts = r->ts;
  snprintf (cut.line[cut.n++].text, sizeof cut.line[0].text, "%s", r->text);
}

/* The WARNING line `r` opened a report of the box: what came before it, if it is its own. */
static void
cut_give (struct view_kmsg *k, const struct host_record *r)
{
  bool same_caller = r->caller[0] && strcmp (r->caller, cut.caller) == 0;

  if (cut.open && (same_caller || (!r->caller[0] && r->seq == cut.next_seq && cut.n == 1)))
    for (int i = 0; i < cut.n && i < CUT_LINES; i++)
      if (!kmsg_shows_host (cut.line[i].text))
        kmsg_append (k, cut.line[i].prio, cut.line[i].ts, cut.line[i].text, strlen (cut.line[i].text));
}

/* A record that may start something about the box: an OOM report (held), or a line given. */
static void
starts (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r)
{
  bool warning = strncmp (r->text, "WARNING: ", 9) == 0;

  if (kmsg_oom_starts (cfg, k, r))
    return;
  if (starts_about_box (cfg, k, r->text))
    {
      if (warning && k->report_pid > 0 && k->report_kind == REPORT_WARNING)
        cut_give (k, r);
      kmsg_append (k, r->prio, r->ts, r->text, strlen (r->text));
      snprintf (k->report_caller, sizeof k->report_caller, "%s", r->caller);
    }
  if (warning)
    cut.open = false;
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

/* A line of the open report about one process? Taken (given or withheld) when it is. */
static bool
report_takes (struct view_kmsg *k, const struct host_record *r)
{
  enum continuation c = ENDS;
  size_t give = strlen (r->text);

  if (k->report_lines < REPORT_MAX_LINES)
    c = (k->report_kind & ~(uint32_t) REPORT_KERNEL_REGS) == REPORT_WARNING ? warning_continues (k, r->text, k->report_pid, &give)
                                                                            : fault_continues (r->text, k->report_pid);
  if (c == ENDS)
    return false;
  k->report_lines++;
  if (c == CONTINUES || c == LAST)
    kmsg_append (k, r->prio, r->ts, r->text, give);
  if (c == LAST)
    k->report_pid = 0;
  return true;
}

void
kmsg_host_record (const struct view_config *cfg, struct view_kmsg *k, char *rec)
{
  unsigned long long seq, ts;
  int prio, used = 0;
  struct host_record r = { 0 };

  if (sscanf (rec, "%d,%llu,%llu,%*[^;];%n", &prio, &seq, &ts, &used) < 3 || used == 0)
    return;
  rec[strcspn (rec, "\n")] = '\0';
  r.prio = prio, r.seq = seq, r.ts = ts, r.text = rec + used;
  caller_of (rec, (size_t) used, r.caller, sizeof r.caller);
  /* A respawned server reads the host's buffer from its start: what it saw already is
   * skipped by sequence number (an OOM report it held is held again). */
  if (k->host_seq_seen && seq <= k->host_seq)
    {
      if (k->held_seq && seq >= k->held_seq && cfg->cgroup_name && (prio >> 3) == 0)
        kmsg_oom_replay (cfg, k, &r);
      return;
    }
  r.next_in_line = k->host_seq_seen && seq == k->host_seq + 1;
  k->host_seq = seq;
  k->host_seq_seen = 1;
  if (cfg->cgroup_name == NULL)
    return;
  if (kmsg_oom_takes (cfg, k, &r))
    return;
  if ((prio >> 3) != 0)
    {
      k->report_pid = 0;
      return;
    }
  cut_observe (&r);
  if (k->report_pid > 0)
    {
      bool same_caller = r.caller[0] && strcmp (r.caller, k->report_caller) == 0;
      if (r.caller[0] && k->report_caller[0] && !same_caller)
        {
          /* Another thread's line amid the report: not the box's, and the report goes on. */
          starts (cfg, k, &r);
          return;
        }
      if ((same_caller || r.next_in_line) && report_takes (k, &r))
        return;
      k->report_pid = 0;
    }
  starts (cfg, k, &r);
}
