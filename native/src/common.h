/* Shared helpers of the nsbox executables: the error struct, cleanup attributes and
 * path resolution that cannot leave a root directory. */
#ifndef NSBOX_COMMON_H
#define NSBOX_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* What went wrong: the errno, the step (op name, or `clone`, `handshake`, ...) and what
 * was being done (`open '/proc/self/exe'`). The message never contains a newline, so it
 * fits the one-line result protocol (PROTOCOL.md §1). */
struct nsbox_error
{
  int errnum;
  const char *step;
  char msg[1024];
};

/* Fills err with errnum and a formatted message followed by strerror(errnum); returns -1
 * so that callers can `return nsbox_fail (err, errno, "open '%s'", path);`. */
int nsbox_fail (struct nsbox_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Sets the step if nothing more precise was set yet. */
void nsbox_error_step (struct nsbox_error *err, const char *step);

/* Formats `STEP ERRNO MESSAGE` (no newline) into buf. */
void nsbox_error_format (const struct nsbox_error *err, char *buf, size_t size);

/* Parses the `STEP ERRNO MESSAGE` text produced by nsbox_error_format. */
void nsbox_error_parse (struct nsbox_error *err, const char *text, char *step_buf,
                        size_t step_size);

/* Cleanup helpers (crun style). */
void nsbox_cleanup_fd (int *fd);
void nsbox_cleanup_free (void *ptr);
#define cleanup_fd __attribute__ ((cleanup (nsbox_cleanup_fd)))
#define cleanup_free __attribute__ ((cleanup (nsbox_cleanup_free)))

/* Closes *fd if open and sets it to -1 (for fds kept in structs and globals). */
void nsbox_close (int *fd);

/* Returns the fd and forgets it, so a cleanup_fd variable does not close it. */
static inline int
nsbox_steal_fd (int *fd)
{
  int ret = *fd;
  *fd = -1;
  return ret;
}

/* write(2) of the whole buffer, retrying on EINTR and short writes. */
int nsbox_write_all (int fd, const void *buf, size_t len);

/* read(2) of exactly len bytes, retrying on EINTR; -1 on error or early EOF. */
int nsbox_read_exact (int fd, void *buf, size_t len);

/* Writes a string into a file (for /proc and /sys knobs: one write(2) call). */
int nsbox_write_file (const char *path, const char *content, size_t len,
                      struct nsbox_error *err);

/* A whole small file into buf (at most size - 1 bytes, NUL-terminated), opened without
 * following a symlink at its last component; its length, or -1 with errno set. */
ssize_t nsbox_read_small_file (const char *path, char *buf, size_t size);

/* A helper's whole config file into buf, as nsbox_read_small_file; a file that fills buf is
 * refused (EFBIG) rather than read cut short. 0, or -1 with err set naming the path. */
int nsbox_read_config_file (const char *path, char *buf, size_t size, struct nsbox_error *err);

/* Reads fd to EOF into a malloc'd buffer (NUL-terminated, *len excludes the NUL). */
int nsbox_read_all (int fd, size_t max, char **out, size_t *len, struct nsbox_error *err);

/* Parses a decimal number into [min, max]; returns -1 with errno EINVAL/ERANGE. */
int nsbox_parse_long (const char *text, long long min, long long max, long long *out);

/* openat2(2) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `path` is resolved as if
 * root_fd were `/`, so neither `..` nor an absolute symlink can leave it. Returns the fd
 * or -1 with errno set (no error struct: ENOENT is often expected by the caller). */
int nsbox_open_in_root (int root_fd, const char *path, int flags, mode_t mode);

/* How a missing target is created by nsbox_resolve_in_root. */
enum nsbox_create
{
  NSBOX_CREATE_NONE, /* ENOENT is an error */
  NSBOX_CREATE_DIR,  /* mkdir -p */
  NSBOX_CREATE_FILE, /* mkdir -p of the parents, then an empty file */
};

/* Resolves path inside root_fd and returns an O_PATH fd on it, creating it (and its
 * missing parents, mode 0755) as asked. Each component is created with *at() calls
 * relative to an fd that was itself resolved inside the root, so a symlink in the rootfs
 * can never make us create or open anything outside of it. */
int nsbox_resolve_in_root (int root_fd, const char *path, enum nsbox_create create,
                           mode_t mode, struct nsbox_error *err);

/* Resolves the parent directory of path inside root_fd (creating it when create is set)
 * and returns an O_PATH fd on it; the last component is copied into name. */
int nsbox_resolve_parent_in_root (int root_fd, const char *path, bool create, char *name,
                                  size_t name_size, struct nsbox_error *err);

/* A unix socket address for path. A path longer than sun_path is reached through its
 * directory: *dir_fd (the caller closes it) is an O_PATH fd of the parent and the address
 * is /proc/self/fd/N/NAME. */
struct sockaddr_un;
int nsbox_unix_address (const char *path, struct sockaddr_un *addr, int *dir_fd,
                        struct nsbox_error *err);

/* A string builder, NUL-terminated at all times. A growing one (`grows`) reallocs and sets
 * `failed` when memory runs out; a fixed one (NSBOX_BUF_FIXED over an array) never
 * allocates and cuts appends at its capacity, for the shim's loop. */
struct nsbox_buf
{
  char *p;
  size_t len, cap;
  bool grows, failed;
};
#define NSBOX_BUF_FIXED(array) { (array), 0, sizeof (array), false, false }
#define NSBOX_BUF_GROWING { NULL, 0, 0, true, false }
void nsbox_buf_mem (struct nsbox_buf *b, const char *s, size_t n);
void nsbox_buf_str (struct nsbox_buf *b, const char *s);
void nsbox_buf_int (struct nsbox_buf *b, int64_t v);
/* Appends s as a JSON string, quotes included. */
void nsbox_buf_json (struct nsbox_buf *b, const char *s);

#endif
