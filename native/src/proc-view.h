/* nsbox-proc-view, the per-box /proc views server (native/PROTOCOL.md §2, "/proc views").
 * Internal interface between its files:
 *   proc-view.c         main: config, the FUSE loop on the connections the shim keeps, the
 *                       in-flight page that lets the next server answer what this one took
 *   proc-view-mount.c   the first start only: the FUSE mount and its files bound over the
 *                       box's /proc and /sys files, in the box's mount namespace
 *   proc-view-render.c  the files' text, from the host's files and the box's cgroup
 *   proc-view-kmsg.c    the box's own kernel log (kmsg.log in the box dir) and its /dev/kmsg
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
  VIEW_KMSG,
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

/* An open /dev/kmsg of the box: where it reads. The kernel keeps the file position (the byte
 * offset of a record in kmsg.log), but moves it on writes too and seeks without telling the
 * server; `pos` is the reader's real place, `next_off` the offset its next read comes with
 * when no seek came between (proc-view-kmsg.c). */
struct kmsg_reader
{
  uint64_t fh, pos, next_off;
  uint64_t kh;    /* the kernel's handle for poll notifications */
  uint32_t armed; /* 1: a poller waits for the log to grow */
  uint32_t used;
};

/* The kernel log's state, in the shared page too (a respawned server goes on with it). */
struct view_kmsg
{
  uint64_t seq;      /* the box's next record number */
  uint64_t host_seq; /* the last host record looked at */
  uint32_t host_seq_seen, full;
  int32_t oom_pids[16]; /* host pids an oom-kill line of the box named */
  uint32_t next_oom_pid, next_reader;
  /* The open report about a process of the box (proc-view-kmsg-host.c): its pid (0: none),
   * the continuation lines taken, and the printing thread when the kernel names it. */
  int32_t report_pid;
  uint32_t report_lines;
  char report_caller[16];
  uint32_t report_kind; /* its grammar, and whether the registers shown last were the kernel's */
  uint64_t held_seq;    /* the first record of an OOM report held until it is known whose (proc-view-kmsg-oom.c), 0: none */
  /* Blocking reads at the log's end, answered when it grows. */
  struct
  {
    uint64_t unique, fh, pos, off;
    uint32_t size;
  } waiting[16];
  struct kmsg_reader readers[32];
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
  const char *cgroup_name;                /* the box's cgroup leaf, as the kernel log names it */
  const char *attribute_pids;             /* --attribute: these pids are the box's (a recorded report replayed) */
  int64_t started_boottime_ns;
  pid_t init_pid;
  uint32_t disk_dev_major, disk_dev_minor; /* the box root's block device, 0:0 none */
  uint32_t owner_uid, owner_gid;           /* the box's root, as the host sees it */
};

/* proc-view-render.c: the whole text of file `which` into out (malloc'd, caller frees). */
int view_render (const struct view_config *cfg, const struct view_load *load, enum view_file which,
                 char **out, size_t *len);
/* One load sample of the box's threads (every second). */
void view_load_sample (const struct view_config *cfg, struct view_load *load);

/* proc-view-mount.c: in a child process. Mounts the FUSE connections `views_fd` (the /proc
 * and /sys views) and `kmsg_fd` (/dev/kmsg) and binds their files over the box's (the mount
 * namespace of its init); 0, or -1 with err. */
int view_mount (const struct view_config *cfg, int views_fd, int kmsg_fd, struct nsbox_error *err);

/* proc-view.c, for proc-view-kmsg.c: an answer to request `unique`; a notification
 * (FUSE_NOTIFY_*) to the kernel. Both on /dev/kmsg's connection, whatever is being served. */
void view_kmsg_reply (uint64_t unique, int error, const void *data, size_t len);
void view_kmsg_notify (int code, const void *data, size_t len);

/* proc-view-kmsg.c: the log */
int kmsg_open_log (int64_t started_boottime_ns, bool new_boot);
/* The log goes to `fd` instead (nsbox-proc-view --attribute: stdout). */
void kmsg_log_to (int fd);
void kmsg_append (struct view_kmsg *k, int prio, uint64_t ts_usec, const char *text, size_t len);
void kmsg_follow_host (const struct view_config *cfg, struct view_kmsg *k, int host_fd);
/* proc-view-kmsg-host.c: one record of the host's /dev/kmsg (NUL-terminated), kept when it is about the box */
void kmsg_host_record (const struct view_config *cfg, struct view_kmsg *k, char *rec);
void kmsg_box_write (struct view_kmsg *k, const char *data, size_t len);
ssize_t kmsg_record_at (uint64_t offset, char *buf, size_t size);
uint64_t kmsg_size (void);
/* proc-view-kmsg.c: the box's /dev/kmsg, request by request (each answers it) */
struct fuse_in_header;
void kmsg_fuse_open (struct view_kmsg *k, uint64_t fh);
void kmsg_fuse_release (struct view_kmsg *k, uint64_t fh);
void kmsg_fuse_read (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg);
void kmsg_fuse_write (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg);
void kmsg_fuse_poll (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg);
void kmsg_fuse_lseek (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg);
void kmsg_fuse_seek_end (struct view_kmsg *k, uint64_t fh);
/* The log grew: waiting reads answered, pollers told. `interrupted`: a waiting read to end. */
void kmsg_wake (struct view_kmsg *k, uint64_t interrupted);

#endif
