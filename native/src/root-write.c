/* See root-write.h. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include "openat2.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "root-write.h"

/* The directory of the file, beneath the root, through no symlink and no magic link. */
static int
open_dir_beneath (int root_fd, const char *dir)
{
  struct open_how how = {
    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };

  return nsbox_openat2 (root_fd, dir[0] ? dir : ".", &how);
}

static int
write_all (int fd, const unsigned char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      data += n;
      len -= (size_t) n;
    }
  return 0;
}

/* True when dir_fd/name is a regular file (not followed if a link) of this owner, mode and content:
 * a rewrite would change nothing (and a rename over it costs ext4 a flush of the new data). */
static bool
same_file (int dir_fd, const char *name, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
  unsigned char buf[4096];
  char proc[64];
  struct stat st;
  size_t done = 0;
  bool same = false;
  /* O_PATH first: nothing is opened for reading (a FIFO or a device the box planted) until
   * fstat has shown a regular file, which is then reopened through its own fd. */
  int path_fd = openat (dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), fd;

  if (path_fd < 0)
    return false;
  if (fstat (path_fd, &st) < 0 || !S_ISREG (st.st_mode) || (st.st_mode & 07777) != (mode & 07777)
      || st.st_uid != uid || st.st_gid != gid || (size_t) st.st_size != len)
    {
      close (path_fd);
      return false;
    }
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", path_fd);
  fd = open (proc, O_RDONLY | O_CLOEXEC);
  close (path_fd);
  if (fd < 0)
    return false;
  while (done < len)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n <= 0 || (size_t) n > len - done
          || memcmp (buf, (const unsigned char *) data + done, (size_t) n) != 0)
        goto out;
      done += (size_t) n;
    }
  same = read (fd, buf, 1) == 0;
out:
  close (fd);
  return same;
}

/* The directory of `path` (relative to `root`, its last part a plain name), opened beneath the
 * root with no symlink followed; -1 with err. `*name` is then the file's name in it. */
static int
open_parent (const char *root, const char *path, const char *what, const char **name, struct nl_error *err)
{
  char dir[4096];
  const char *slash = strrchr (path, '/');
  int root_fd, dir_fd, e;

  *name = slash ? slash + 1 : path;
  if (path[0] == '/' || !(*name)[0] || strcmp (*name, ".") == 0 || strcmp (*name, "..") == 0
      || strlen (*name) > 200 || (size_t) (*name - path) >= sizeof dir)
    return nl_fail (err, EINVAL, "%s '%s' in '%s': a relative file path is needed", what, path, root);
  memcpy (dir, path, (size_t) (*name - path));
  dir[*name - path] = '\0';
  root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return nl_fail (err, errno, "open root '%s'", root);
  dir_fd = open_dir_beneath (root_fd, dir);
  e = errno;
  close (root_fd);
  if (dir_fd < 0)
    return nl_fail (err, e, "open directory '%s' in '%s' (no symlink followed)", dir, root);
  return dir_fd;
}

/* Whose the new file is: its directory's owner's. A box's root is not host root: in an idmapped
 * rootfs the files on disk are owned by 0, but in a layered root's upper layer they are the box's
 * shifted ids, where a file of host root's is `nobody` inside the box. The directory has the ids
 * of the box's root as they are on that filesystem (or whatever ids the box gave its /etc). */
static void
owner_for (int dir_fd, uid_t *uid, gid_t *gid)
{
  struct stat st;

  if (fstat (dir_fd, &st) < 0)
    st.st_uid = geteuid (), st.st_gid = getegid ();
  *uid = st.st_uid;
  *gid = st.st_gid;
}

int
root_write_file (const char *root, const char *path, const void *data, size_t len, mode_t mode,
                 struct nl_error *err)
{
  char tmp[300];
  const char *name;
  unsigned int nonce;
  int dir_fd = open_parent (root, path, "write", &name, err), fd, e;

  uid_t uid;
  gid_t gid;

  if (dir_fd < 0)
    return -1;
  owner_for (dir_fd, &uid, &gid);
  if (same_file (dir_fd, name, data, len, mode, uid, gid))
    {
      close (dir_fd);
      return 0;
    }
  if (getrandom (&nonce, sizeof nonce, 0) != sizeof nonce)
    nonce = (unsigned int) getpid ();
  snprintf (tmp, sizeof tmp, ".%s.nsbox-%08x", name, nonce);
  fd = openat (dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    {
      e = errno;
      close (dir_fd);
      return nl_fail (err, e, "create '%.*s%s' in '%s'", (int) (name - path), path, tmp, root);
    }
  /* fchown before fchmod: a chown clears set-id bits, the mode is then exactly `mode`. */
  e = write_all (fd, data, len) < 0 || fchown (fd, uid, gid) < 0 || fchmod (fd, mode) < 0 ? errno : 0;
  if (close (fd) < 0 && e == 0)
    e = errno;
  if (e != 0)
    {
      unlinkat (dir_fd, tmp, 0);
      close (dir_fd);
      return nl_fail (err, e, "write '%.*s%s' in '%s'", (int) (name - path), path, tmp, root);
    }
  /* rename replaces a symlink at `name` itself: the new file never goes where it points. */
  if (renameat (dir_fd, tmp, dir_fd, name) < 0)
    {
      e = errno;
      unlinkat (dir_fd, tmp, 0);
      close (dir_fd);
      return nl_fail (err, e, "rename over '%s' in '%s'", path, root);
    }
  close (dir_fd);
  return 0;
}

ssize_t
root_read_file (const char *root, const char *path, void *buf, size_t max, struct nl_error *err)
{
  char proc[64];
  const char *name;
  struct stat st;
  size_t done = 0;
  int dir_fd = open_parent (root, path, "read", &name, err), path_fd, fd, e;

  if (dir_fd < 0)
    return -1;
  /* As same_file: O_PATH and fstat first, so a FIFO or device the box planted is never opened. */
  path_fd = openat (dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  e = errno;
  close (dir_fd);
  if (path_fd < 0)
    return nl_fail (err, e, "open '%s' in '%s' (no symlink followed)", path, root);
  if (fstat (path_fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (path_fd);
      return nl_fail (err, EINVAL, "'%s' in '%s' is not a regular file", path, root);
    }
  if ((size_t) st.st_size > max)
    {
      close (path_fd);
      return nl_fail (err, EFBIG, "'%s' in '%s' is larger than %zu bytes", path, root, max);
    }
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", path_fd);
  fd = open (proc, O_RDONLY | O_CLOEXEC);
  e = errno;
  close (path_fd);
  if (fd < 0)
    return nl_fail (err, e, "open '%s' in '%s'", path, root);
  while (done < max)
    {
      ssize_t n = read (fd, (unsigned char *) buf + done, max - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          e = errno;
          close (fd);
          return nl_fail (err, e, "read '%s' in '%s'", path, root);
        }
      if (n == 0)
        break;
      done += (size_t) n;
    }
  close (fd);
  return (ssize_t) done;
}
