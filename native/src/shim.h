/* Internal interface between the shim's files (native/PROTOCOL.md §2). Each has one concern:
 *   shim.c            main: arguments, setup, the epoll loop
 *   shim-supervise.c  the launcher and its result, reaping (subreaper), leftovers after a failure
 *   shim-log.c        the box's output: console.log with rotation
 *   shim-exit.c       what the shim reports: the ready line, pid files, exit.json
 *   shim-notify.c     seccomp listeners of the box, kept here, served by nsbox-notify
 *                     (respawned when it dies)
 *   shim-views.c      the box's FUSE connection for its /proc views, kept here, served by
 *                     nsbox-proc-view (respawned when it dies)
 * Single-threaded, one state struct, no allocation after setup. */
#ifndef NSBOX_SHIM_H
#define NSBOX_SHIM_H

#include "common.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum
{
  LOG_MAX_DEFAULT = 1 << 20,
  LOG_KEEP_DEFAULT = 2,
  LOG_KEEP_MAX = 1000,
  IO_BUF = 16384,      /* one read of box output */
  RESULT_MAX = 1024,   /* the launcher's result line */
  MAX_EVENTS = 8,
  DRAIN_MS = 1000,     /* output kept being read after init exited */
  FAIL_WAIT_MS = 2000, /* after a launcher error: time given to it to exit and clean up */
  NOTIFY_MAX = 64,     /* seccomp listeners of one box: its init's and one per exec running */
  NOTIFY_CONN_MAX = 8, /* launchers connected, their listener not sent yet */
};

/* epoll tags (epoll_event.data.u64). */
enum
{
  TAG_SIGNAL = 1,
  TAG_RESULT,
  TAG_OUTPUT,
  TAG_NOTIFY_ACCEPT,
  TAG_CONSOLE_ACCEPT,
  TAG_CONSOLE_CLIENT,
  /* + slot: a launcher's connection, a listener */
  TAG_NOTIFY_CONN = 0x100,
  TAG_NOTIFY_LISTENER = 0x200,
};

enum box_state
{
  BOX_STARTING, /* the launcher runs; no result yet */
  BOX_RUNNING,  /* init runs */
  BOX_EXITED,   /* init exited; draining the output */
  BOX_FAILED,   /* the launcher failed; waiting for it and its leftovers to go */
};

struct shim_state
{
  /* options */
  char launcher[PATH_MAX];
  const char *box_dir;
  bool terminal;
  uint64_t log_max; /* 0: never rotate */
  unsigned log_keep;

  /* fds; -1 when closed */
  int ready_fd;  /* to the starter: one JSON line */
  int result_fd; /* from the launcher: one result line */
  int out_fd;    /* box output: pipe read end or pty master */
  int in_fd;     /* box input: the write end of its stdin pipe, held so reads block */
  int pty_keep;  /* a slave of the box's pty, held while init runs: a master whose slaves are
                    all closed reads EIO, and systemd closes its stdio and opens /dev/console
                    anew for each message (LXC holds one the same way) */
  int signal_fd;
  int epoll_fd;
  int log_fd;

  pid_t self;
  pid_t launcher_pid;
  pid_t init_pid;
  enum box_state state;
  bool launcher_reaped;
  bool children_left;
  bool last_round; /* BOX_FAILED: the leftovers were killed; next deadline gives up */
  int launcher_status;
  int init_status;
  int64_t exited_at; /* realtime ms */
  int64_t deadline;  /* monotonic ms, for BOX_EXITED and BOX_FAILED; 0 = none */

  uint64_t log_size;
  size_t result_len;

  /* nsbox console (shim-console.c), with --terminal */
  int console_listen_fd; /* console.sock */
  int console_client_fd; /* the one attached client, -1 when none */

  /* seccomp user-notify (shim-notify.c); notify_helper[0] == 0: off */
  char notify_helper[PATH_MAX];
  const char *notify_config;
  int notify_listen_fd;          /* notify.sock: launchers send listeners there */
  int notify_conn[NOTIFY_CONN_MAX];
  int notify_fd[NOTIFY_MAX];     /* listeners kept while the box runs (-1: free slot) */
  uint32_t notify_seq[NOTIFY_MAX];
  uint32_t notify_next_seq;
  int notify_ctl_fd;             /* to the running helper, -1 when none runs */
  int notify_inflight_fd;        /* a memfd page shared with every helper (shim-notify.c) */
  pid_t notify_pid;
  int64_t notify_spawned_at;     /* monotonic ms */
  int64_t notify_respawn_at;     /* monotonic ms; 0: nothing to respawn */
  unsigned notify_crashes;       /* quick deaths in a row, for the backoff */
  int64_t started_boottime_ns;   /* CLOCK_BOOTTIME when the launcher was started */

  /* /proc views (shim-views.c); views_helper[0] == 0: off */
  char views_helper[PATH_MAX];
  const char *views_config;
  int views_fuse_fd;             /* the box's FUSE connection, kept for the box's life */
  int views_kmsg_fd;             /* and the one of its /dev/kmsg */
  int views_page_fd;             /* a memfd shared with every nsbox-proc-view of the box */
  pid_t views_pid;
  int64_t views_spawned_at;      /* monotonic ms */
  int64_t views_respawn_at;      /* monotonic ms; 0: nothing to respawn */
  unsigned views_crashes;
};

extern struct shim_state S;
/* Scratch space for one read (box output, /proc/self/task/N/children). */
extern char shim_io_buf[IO_BUF];

/* shim.c */
int64_t shim_now_ms (clockid_t clock);
int shim_epoll_add (int fd, uint32_t events, uint64_t tag);

/* shim-log.c */
int shim_log_open (struct nsbox_error *err);
/* Reads what the box wrote into the log; closes the output at EOF. */
void shim_output_read (void);

/* shim-console.c */
int shim_console_setup (struct nsbox_error *err);
void shim_console_accept (void);
void shim_console_input (uint32_t events);
void shim_console_output (const char *data, size_t len);
void shim_console_stop (void);

/* shim-exit.c */
void shim_ready_ok (void);
void shim_ready_error (const char *step, int errnum, const char *message);
int shim_write_pid_file (const char *name, pid_t pid, struct nsbox_error *err);
/* exit.json for the init's wait status; 0, or -1 with err. */
int shim_write_exit (struct nsbox_error *err);

/* shim-notify.c */
/* notify.sock bound and listened on; before the launcher runs (it connects in its host phase). */
int shim_notify_setup (struct nsbox_error *err);
void shim_notify_event (uint64_t tag, uint32_t events);
/* A child was reaped: true when it was the helper (a respawn is then scheduled). */
bool shim_notify_reaped (pid_t pid, int status);
/* The respawn deadline passed: start a helper again. */
void shim_notify_tick (int64_t now);
/* The box ended: no helper any more, listeners closed. */
void shim_notify_stop (void);
void shim_notify_reload (void);

/* shim-views.c */
/* /dev/fuse opened and the shared page made; before the launcher runs. */
int shim_views_setup (struct nsbox_error *err);
/* The init is held: the first server mounts the views in its mount namespace; 0 once they
 * are there, -1 with err (the box then fails to start). */
int shim_views_start (struct nsbox_error *err);
/* A child was reaped: true when it was the views server (a respawn is then scheduled). */
bool shim_views_reaped (pid_t pid, int status);
void shim_views_tick (int64_t now);
/* The box ended: no server any more, the connection closed. */
void shim_views_stop (void);

/* shim-supervise.c */
struct shim_stdio
{
  int in, out, err;
};
/* Forks the launcher with fd 0-2 = io, 3 = the program, 4 = a result pipe (watched). */
int shim_launcher_spawn (struct shim_stdio *io, struct nsbox_error *err);
void shim_result_read (void);
/* Reaps every child that exited: the launcher, init, orphans of the box. */
void shim_reap (void);
/* After a failed start: SIGKILL to every child left (unreaped, so no pid reuse). */
void shim_kill_children (void);

#endif
