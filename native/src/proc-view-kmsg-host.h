/* The host side of the box's kernel log, between its two files:
 *   proc-view-kmsg-host.c  each host record, and the reports about one process (named on
 *                          their first line), with what every report shares: whose a pid or a
 *                          cgroup is, the lines of a stack dump, what shows the host
 *   proc-view-kmsg-oom.c   OOM reports, held until their `oom-kill:` line says whose they are */
#ifndef NSBOX_PROC_VIEW_KMSG_HOST_H
#define NSBOX_PROC_VIEW_KMSG_HOST_H

#include "proc-view.h"

/* One record of the host's /dev/kmsg, parsed. */
struct host_record
{
  int prio;
  uint64_t seq, ts;
  const char *text;
  char caller[sizeof ((struct view_kmsg *) 0)->report_caller]; /* `T123`; empty without CONFIG_PRINTK_CALLER */
  bool next_in_line; /* the host's very next record after the last one looked at */
};

/* Whose a host pid is: the box's, another's, or gone (no /proc/PID: exited since). */
enum pid_owner
{
  PID_ELSEWHERE,
  PID_IN_BOX,
  PID_GONE,
};
enum pid_owner kmsg_pid_owner (const struct view_config *cfg, long pid);
/* The box's cgroup leaf named as a whole component of a cgroup path in `text`. */
bool kmsg_names_cgroup (const char *text, const char *name);
/* Does the cgroup path at `p` (as the kernel prints it) name the box's cgroup or one below? */
bool kmsg_box_path_at (const struct view_config *cfg, const char *p);
/* `oom-kill:...`: does it name the box's cgroup (oom_memcg= or task_memcg=)? The victim's pid. */
bool kmsg_oom_kill_names_box (const struct view_config *cfg, const char *text, long *victim);
/* Does `text` show something of the host: its kernel version, a kernel address, a module? */
bool kmsg_shows_host (const char *text);

/* A line of a kernel stack dump (dump_stack, show_regs): given to the box, withheld, or not
 * such a line. `kernel_regs` says whether the registers shown last were the kernel's: their
 * lines are withheld (a user task's at its syscall are given). */
enum dump_line
{
  DUMP_NOT,
  DUMP_GIVE,
  DUMP_WITHHOLD,
};
enum dump_line kmsg_dump_line (const char *text, bool *kernel_regs);
/* `CPU: N UID: N PID: N Comm: COMM Tainted: ... VERSION`: the pid (0: not such a line), and the
 * length of the line before what shows the host (0: none of it may be given). */
long kmsg_cpu_line (const char *text, size_t *keep);

/* proc-view-kmsg-oom.c. Each answers whether the record was the OOM report's (held or
 * withheld); the `oom-kill:` line that ends it is not: its own rule gives it. */
bool kmsg_oom_starts (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r);
bool kmsg_oom_takes (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r);
/* A record looked at before (a respawned server reading the host's log again): the held
 * report it belongs to is held again, as the dead server held it. */
void kmsg_oom_replay (const struct view_config *cfg, struct view_kmsg *k, const struct host_record *r);

#endif
