/* Writing a file into a box's rootfs from the host without following what the box planted
 * (native/PROTOCOL.md §4, writeFileInRoot). */
#ifndef NSBOX_ROOT_WRITE_H
#define NSBOX_ROOT_WRITE_H

#include <stddef.h>
#include <sys/types.h>

#include "netlink.h"

/* Replaces `root`/`path` (path relative to the root, e.g. "etc/resolv.conf") with `data`.
 * The directories on the way are resolved beneath the root with no symlink followed (a
 * symlinked /etc fails with ELOOP); the file is written to a new temporary name and renamed
 * over the old one, so a symlink planted at the name is replaced, never written through. The
 * file is owned as its directory is (the box's root, whatever host ids that is on disk). A regular file already holding exactly `data` with
 * `mode` and that owner is left as it is (a box's
 * restart writes the same resolv.conf and hosts; on ext4 a rename over a file flushes the new
 * data). */
int root_write_file (const char *root, const char *path, const void *data, size_t len, mode_t mode,
                     struct nl_error *err);

/* Reads `root`/`path` into `buf` (at most `max` bytes; a larger file fails with EFBIG), the
 * directories resolved as root_write_file resolves them and the file itself not followed: only
 * a regular file is opened. Returns the length, or -1 with `err` (ENOENT when it is missing). */
ssize_t root_read_file (const char *root, const char *path, void *buf, size_t max, struct nl_error *err);

#endif
