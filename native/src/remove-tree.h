/* The project's one recursive delete (native/PROTOCOL.md §4, removeTree). */
#ifndef NSBOX_REMOVE_TREE_H
#define NSBOX_REMOVE_TREE_H

#include <limits.h>
#include <stddef.h>

/* The mount points met below the root and left in place (with their ancestors). */
struct remove_tree_mounts
{
  char **paths;
  size_t count;
  size_t capacity;
};

/* What failed: errno, syscall and the path it was made on. */
struct remove_tree_error
{
  int errnum;
  const char *syscall;
  char path[PATH_MAX];
};

/* Removes `path` and everything below it that lives on the same mount as `path`.
 *
 * - Symlinks are never followed: a symlink (the root included) is unlinked itself.
 * - Another mount is never entered: an entry whose mount id differs from the root's (a
 *   directory or a file bind-mounted there) is left as it is, with the directories that
 *   lead to it, and its path is added to `mounts`. Every directory is opened with
 *   O_NOFOLLOW|O_DIRECTORY relative to its parent's fd and its mount id is read from the
 *   open fd, so a rename or a mount racing the walk cannot make it cross.
 * - When `path` is itself a mount point, it is emptied and stays (it is the caller's mount).
 * - A missing `path` is not an error.
 * Returns 0 (mounts may still be non-empty) or -1 with err filled. Thread-safe: syscalls
 * on fds only, no global state. */
int remove_tree (const char *path, struct remove_tree_mounts *mounts, struct remove_tree_error *err);

void remove_tree_mounts_free (struct remove_tree_mounts *mounts);

#endif
