/* A recursive delete that never follows a symlink and never crosses a mount (the contract
 * is in remove-tree.h). One fd is held per level of the walk; every step is relative to
 * the fd of a directory that was itself checked to be on the root's mount. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "remove-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* Levels below the root; each holds an fd and its list of names. */
#define REMOVE_TREE_MAX_DEPTH 2048

struct walk
{
  uint64_t mnt_id;
  struct remove_tree_mounts *mounts;
  struct remove_tree_error *err;
  /* The path of the entry being worked on, for errors and the mounts list; a path longer
   * than PATH_MAX (reachable through fds) is cut and ends in "...". */
  char path[PATH_MAX];
  size_t len;
  bool cut;
};

/* The current path as text: a cut path ends in "..." (its last bytes give way to it). */
static void
walk_path (const struct walk *w, char *buf, size_t size)
{
  size_t n = w->len < size - 1 ? w->len : size - 1;

  memcpy (buf, w->path, n);
  buf[n] = '\0';
  if (w->cut)
    memcpy (buf + (n > size - 4 ? size - 4 : n), "...", 4);
}

static int
walk_fail (struct walk *w, int errnum, const char *syscall)
{
  w->err->errnum = errnum;
  w->err->syscall = syscall;
  walk_path (w, w->err->path, sizeof w->err->path);
  return -1;
}

/* Where the current path was before path_push, to go back to with path_pop. */
struct path_mark
{
  size_t len;
  bool cut;
};

/* Appends "/name" to the current path. */
static struct path_mark
path_push (struct walk *w, const char *name)
{
  struct path_mark mark = { w->len, w->cut };
  size_t n = strlen (name);

  if (!w->cut && w->len + 1 + n < sizeof w->path)
    {
      w->path[w->len++] = '/';
      memcpy (w->path + w->len, name, n + 1);
      w->len += n;
    }
  else
    w->cut = true;
  return mark;
}

static void
path_pop (struct walk *w, struct path_mark mark)
{
  w->len = mark.len;
  w->cut = mark.cut;
  w->path[w->len] = '\0';
}

static int
note_mount (struct walk *w)
{
  if (w->mounts->count == w->mounts->capacity)
    {
      size_t capacity = w->mounts->capacity ? w->mounts->capacity * 2 : 4;
      char **paths = realloc (w->mounts->paths, capacity * sizeof *paths);

      if (!paths)
        return walk_fail (w, ENOMEM, "realloc");
      w->mounts->paths = paths;
      w->mounts->capacity = capacity;
    }
  char path[PATH_MAX];

  walk_path (w, path, sizeof path);
  if (!(w->mounts->paths[w->mounts->count] = strdup (path)))
    return walk_fail (w, ENOMEM, "strdup");
  w->mounts->count++;
  return 0;
}

/* The mount id of what fd (or name relative to it) is; STATX_MNT_ID is Linux 5.8. */
static int
mount_id_at (struct walk *w, int dirfd, const char *name, int flags, struct statx *stx)
{
  if (statx (dirfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_MNT_ID,
             stx)
      < 0)
    return -1;
  if (!(stx->stx_mask & STATX_MNT_ID))
    {
      errno = EOPNOTSUPP;
      return walk_fail (w, EOPNOTSUPP, "statx STATX_MNT_ID");
    }
  return 0;
}

struct names
{
  char **items;
  size_t count;
};

static void
names_free (struct names *names)
{
  for (size_t i = 0; i < names->count; i++)
    free (names->items[i]);
  free (names->items);
}

/* Lists a directory first, then works on the list: removing entries while readdir walks
 * the same directory may skip some on some filesystems. */
static int
list_dir (struct walk *w, int fd, struct names *out)
{
  size_t capacity = 0;
  int dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  DIR *dir;
  struct dirent *entry;

  out->items = NULL;
  out->count = 0;
  if (dup_fd < 0)
    return walk_fail (w, errno, "fcntl F_DUPFD_CLOEXEC");
  dir = fdopendir (dup_fd);
  if (!dir)
    {
      int e = errno;
      close (dup_fd);
      return walk_fail (w, e, "fdopendir");
    }
  for (;;)
    {
      errno = 0;
      entry = readdir (dir);
      if (!entry)
        break;
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (out->count == capacity)
        {
          size_t more = capacity ? capacity * 2 : 16;
          char **items = realloc (out->items, more * sizeof *items);
          if (!items)
            {
              errno = ENOMEM;
              break;
            }
          out->items = items;
          capacity = more;
        }
      out->items[out->count] = strdup (entry->d_name);
      if (!out->items[out->count])
        {
          errno = ENOMEM;
          break;
        }
      out->count++;
    }
  if (errno != 0)
    {
      int e = errno;
      closedir (dir);
      names_free (out);
      return walk_fail (w, e, "readdir");
    }
  closedir (dir);
  return 0;
}

static int empty_dir (struct walk *w, int fd, int depth);

/* Removes the entry `name` of the directory dirfd (the current path is that entry's). */
static int
remove_entry (struct walk *w, int dirfd, const char *name, int depth)
{
  struct statx stx;
  size_t mounts_before;
  int fd, ret;

  for (int attempt = 0;; attempt++)
    {
      if (mount_id_at (w, dirfd, name, 0, &stx) < 0)
        return errno == ENOENT ? 0 : walk_fail (w, errno, "statx");
      if (stx.stx_mnt_id != w->mnt_id)
        return note_mount (w);
      if (!S_ISDIR (stx.stx_mode))
        {
          if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
            return 0;
          if (errno == EISDIR && attempt < 3)
            continue; /* replaced by a directory meanwhile */
          if (errno == EBUSY)
            return note_mount (w); /* became a mount point meanwhile */
          return walk_fail (w, errno, "unlink");
        }
      fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0)
        break;
      if (errno == ENOENT)
        return 0;
      if ((errno == ELOOP || errno == ENOTDIR) && attempt < 3)
        continue; /* replaced by a symlink or a file meanwhile: look again */
      return walk_fail (w, errno, "open");
    }
  /* What was opened is what gets entered: check its mount, not the name's. */
  if (mount_id_at (w, fd, "", AT_EMPTY_PATH, &stx) < 0)
    {
      int e = errno;
      close (fd);
      return walk_fail (w, e, "statx");
    }
  if (stx.stx_mnt_id != w->mnt_id)
    {
      close (fd);
      return note_mount (w);
    }
  mounts_before = w->mounts->count;
  ret = empty_dir (w, fd, depth + 1);
  close (fd);
  if (ret < 0 || w->mounts->count != mounts_before)
    return ret; /* a mount below stays, and so does this directory */
  if (unlinkat (dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
    return 0;
  if (errno == EBUSY)
    return note_mount (w);
  return walk_fail (w, errno, "rmdir");
}

static int
empty_dir (struct walk *w, int fd, int depth)
{
  struct names names;

  if (depth > REMOVE_TREE_MAX_DEPTH)
    return walk_fail (w, ELOOP, "remove: tree deeper than 2048 levels");
  if (list_dir (w, fd, &names) < 0)
    return -1;
  for (size_t i = 0; i < names.count; i++)
    {
      struct path_mark mark = path_push (w, names.items[i]);
      int ret = remove_entry (w, fd, names.items[i], depth);

      path_pop (w, mark);
      if (ret < 0)
        {
          names_free (&names);
          return -1;
        }
    }
  names_free (&names);
  return 0;
}

int
remove_tree (const char *path, struct remove_tree_mounts *mounts, struct remove_tree_error *err)
{
  struct walk w = { .mounts = mounts, .err = err };
  struct statx stx;
  size_t len = strlen (path);
  int fd, ret;

  mounts->paths = NULL;
  mounts->count = mounts->capacity = 0;
  /* A trailing slash would make the kernel follow a symlink named by the last component. */
  while (len > 1 && path[len - 1] == '/')
    len--;
  if (len == 0 || len >= sizeof w.path || (len == 1 && path[0] == '/'))
    {
      snprintf (w.path, sizeof w.path, "%s", path);
      return walk_fail (&w, EINVAL, "remove: refusing an empty path, / or a path over PATH_MAX");
    }
  memcpy (w.path, path, len);
  w.path[len] = '\0';
  w.len = len;
  if (mount_id_at (&w, AT_FDCWD, w.path, 0, &stx) < 0)
    return errno == ENOENT ? 0 : walk_fail (&w, errno, "statx");
  if (!S_ISDIR (stx.stx_mode))
    {
      if (unlink (w.path) == 0 || errno == ENOENT)
        return 0;
      return walk_fail (&w, errno, "unlink");
    }
  fd = open (w.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      if (errno == ELOOP || errno == ENOTDIR)
        return unlink (w.path) == 0 || errno == ENOENT ? 0 : walk_fail (&w, errno, "unlink");
      return walk_fail (&w, errno, "open");
    }
  if (statx (fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MNT_ID, &stx) < 0)
    {
      int e = errno;
      close (fd);
      return walk_fail (&w, e, "statx");
    }
  w.mnt_id = stx.stx_mnt_id;
  ret = empty_dir (&w, fd, 0);
  close (fd);
  if (ret < 0 || mounts->count > 0)
    return ret;
  /* The root of a mount is the caller's (a box's filesystem image): emptied, it stays. */
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return 0;
  if (rmdir (w.path) == 0 || errno == ENOENT)
    return 0;
  return walk_fail (&w, errno, "rmdir");
}

void
remove_tree_mounts_free (struct remove_tree_mounts *mounts)
{
  for (size_t i = 0; i < mounts->count; i++)
    free (mounts->paths[i]);
  free (mounts->paths);
  mounts->paths = NULL;
  mounts->count = mounts->capacity = 0;
}
