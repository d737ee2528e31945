/* nsbox-notify, the per-box seccomp user-notify helper (native/PROTOCOL.md §2, "seccomp
 * user-notify"). Internal interface between its files:
 *   notify.c           main: config, the listeners it gets from the shim, the loop, the
 *                      in-flight page that lets the next helper answer what this one could not
 *   notify-handlers.c  the built-in handlers: fixed C functions, one per syscall family
 * Single-threaded, static buffers, no allocation after setup. */
#ifndef NSBOX_NOTIFY_H
#define NSBOX_NOTIFY_H

#include "common.h"

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>

enum
{
  NOTIFY_PARAMS_MAX = 8,
  NOTIFY_RULES_MAX = 16,
};

struct notify_param
{
  const char *key, *value;
};

/* One `handler NAME` section of the config with its `KEY VALUE` lines. */
struct notify_rule
{
  const char *handler;
  int syscall_nr;
  struct notify_param params[NOTIFY_PARAMS_MAX];
  unsigned n_params;
};

/* What a handler gets: the request, fds opened for its pid and checked to still be that
 * request's process (SECCOMP_IOCTL_NOTIF_ID_VALID after the opens). */
struct notify_call
{
  const struct seccomp_notif *req;
  int mem_fd; /* /proc/PID/mem, read-write */
  int pid_dir; /* /proc/PID, O_PATH */
  int64_t started_boottime_ns; /* the box's start (the shim's clock), 0 if unknown */
};

/* What a handler decided. */
enum notify_verdict
{
  NOTIFY_ANSWERED,  /* resp->val / resp->error are set */
  NOTIFY_CONTINUE,  /* let the kernel run the real syscall (the host's values) */
};

struct notify_handler
{
  const char *name;
  int syscall_nr;
  /* Checks the rule's params once, at startup. */
  int (*check) (const struct notify_rule *rule, struct nsbox_error *err);
  enum notify_verdict (*handle) (const struct notify_rule *rule, const struct notify_call *call,
                                 struct seccomp_notif_resp *resp);
};

/* notify-handlers.c */
const struct notify_handler *notify_handler_find (const char *name);
const char *notify_param (const struct notify_rule *rule, const char *key);
/* An error naming the first of the rule's params that is not among `known` (NULL-ended). */
int notify_check_params (const struct notify_rule *rule, const char *const *known, struct nsbox_error *err);

/* notify-quota.c: quotactl and quotactl_fd */
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif
int notify_quotactl_check (const struct notify_rule *rule, struct nsbox_error *err);
enum notify_verdict notify_quotactl_handle (const struct notify_rule *rule, const struct notify_call *call,
                                            struct seccomp_notif_resp *resp);

#endif
