/* nsbox-proc-view, the per-box /proc views server (native/PROTOCOL.md §2, "/proc views").
 * Internal interface between its files:
 *   proc-view.c         main: config, the FUSE loop on the connection the shim keeps, the
 *                       in-flight page that lets the next server answer what this one took
 *   proc-view-mount.c   the first start only: the FUSE mount and its files bound over the
 *                       box's /proc and /sys files, in the box's mount namespace
 *   proc-view-render.c  the files' text, from the host's files and the box's cgroup
 * Single-threaded. */
#ifndef NSBOX_PROC_VIEW_H
#define NSBOX_PROC_VIEW_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

/* The files a view can replace; the node id of file i is i + 2 (1 is the root). */
enum view_file
{
  VIEW_MEMINFO,
  VIEW_CPUINFO,
  VIEW_STAT,
  VIEW_LOADAVG,
  VIEW_SWAPS,
  VIEW_DISKSTATS,
  VIEW_CPU_ONLINE,
  VIEW_FILES,
};

struct view_file_info
{
  const char *name;   /* config name and the file's name in the FUSE root */
  const char *target; /* where it goes in the box, relative to its root */
};
extern const struct view_file_info view_files[VIEW_FILES];

/* The load average and what the last sample saw; kept in the shared page, so that a
 * respawned server goes on from where the dead one was. */
struct view_load
{
  int64_t sampled_ms; /* CLOCK_BOOTTIME of the last sample, 0: none yet */
  double avg[3];      /* 1, 5, 15 minutes */
  uint32_t running, blocked, threads, last_pid;
};

/* The config, written by the runtime: `KEY VALUE` lines. */
struct view_config
{
  bool files[VIEW_FILES];
  const char *memory_limit, *memory_usage, *memory_stat;
  const char *swap_limit, *swap_usage;
  bool swap_with_memory; /* v1 memsw: memory and swap together */
  const char *cpuset_cpus, *cpu_max, *cpu_quota, *cpu_period;
  const char *cpu_usage_v1, *cpu_stat_v2; /* cpuacct.stat (ticks) or cpu.stat (usec) */
  const char *tasks;                      /* v1 tasks or v2 cgroup.threads */
  int64_t started_boottime_ns;
  pid_t init_pid;
  uint32_t disk_dev_major, disk_dev_minor; /* the box root's block device, 0:0 none */
};

/* proc-view-render.c: the whole text of file `which` into out (malloc'd, caller frees). */
int view_render (const struct view_config *cfg, const struct view_load *load, enum view_file which,
                 char **out, size_t *len);
/* One load sample of the box's threads (every second). */
void view_load_sample (const struct view_config *cfg, struct view_load *load);

/* proc-view-mount.c: in a child process. Mounts the FUSE connection `fuse_fd` and binds its
 * files over the box's (the mount namespace of `pid`); 0, or -1 with err. */
int view_mount (const struct view_config *cfg, int fuse_fd, struct nsbox_error *err);

#endif
