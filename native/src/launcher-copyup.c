/* `tmpcopyup` (mount flag of a tmpfs): what the directory held in the image is copied into
 * the new tmpfs, as runc and crun do — files, directories, symlinks, fifos and device nodes
 * with their modes and owners. Everything is reached through fds of the directory the
 * tmpfs now covers (opened before the mount), never through a path, and no symlink is
 * followed: the image's tree is the box's to shape. */
#include "launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MAX_DEPTH 256

static int copy_dir (int src, int dst, const char *what, int depth, struct nsbox_error *err);

static int
copy_file (int src_dir, int dst_dir, const char *name, const struct stat *st, const char *what,
           struct nsbox_error *err)
{
  cleanup_fd int in = openat (src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_fd int out = -1;
  char buf[65536];

  if (in < 0)
    return nsbox_fail (err, errno, "copy up '%s' of %s", name, what);
  out = openat (dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                st->st_mode & 07777);
  if (out < 0)
    return nsbox_fail (err, errno, "copy up '%s' into %s", name, what);
  for (;;)
    {
      ssize_t n = read (in, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nsbox_fail (err, errno, "read '%s' of %s", name, what);
      if (n == 0)
        return 0;
      if (nsbox_write_all (out, buf, (size_t) n) < 0)
        return nsbox_fail (err, errno, "write '%s' into %s", name, what);
    }
}

static int
copy_entry (int src_dir, int dst_dir, const char *name, const char *what, int depth,
            struct nsbox_error *err)
{
  struct stat st;

  if (fstatat (src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return nsbox_fail (err, errno, "stat '%s' of %s", name, what);
  if (S_ISDIR (st.st_mode))
    {
      cleanup_fd int from = -1;
      cleanup_fd int to = -1;

      if (mkdirat (dst_dir, name, st.st_mode & 07777) < 0)
        return nsbox_fail (err, errno, "copy up the directory '%s' into %s", name, what);
      from = openat (src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      to = openat (dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (from < 0 || to < 0)
        return nsbox_fail (err, errno, "open the directory '%s' of %s", name, what);
      if (copy_dir (from, to, what, depth + 1, err) < 0)
        return -1;
    }
  else if (S_ISREG (st.st_mode))
    {
      if (copy_file (src_dir, dst_dir, name, &st, what, err) < 0)
        return -1;
    }
  else if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t len = readlinkat (src_dir, name, target, sizeof target - 1);

      if (len < 0)
        return nsbox_fail (err, errno, "read the link '%s' of %s", name, what);
      target[len] = '\0';
      if (symlinkat (target, dst_dir, name) < 0)
        return nsbox_fail (err, errno, "copy up the link '%s' into %s", name, what);
    }
  else if (mknodat (dst_dir, name, st.st_mode, st.st_rdev) < 0)
    return nsbox_fail (err, errno, "copy up the node '%s' into %s", name, what);
  /* Owners as in the image; an owner this box's user namespace does not map stays ours. */
  if (fchownat (dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL
      && errno != EPERM)
    return nsbox_fail (err, errno, "chown '%s' in %s", name, what);
  return 0;
}

static int
copy_dir (int src, int dst, const char *what, int depth, struct nsbox_error *err)
{
  DIR *dir;
  int listing = dup (src);
  int ret = 0;

  if (depth > MAX_DEPTH)
    return nsbox_fail (err, ELOOP, "copy up %s: deeper than %d directories", what, MAX_DEPTH);
  if (listing < 0 || (dir = fdopendir (listing)) == NULL)
    {
      if (listing >= 0)
        close (listing);
      return nsbox_fail (err, errno, "list %s", what);
    }
  for (struct dirent *entry; ret == 0 && (errno = 0, entry = readdir (dir)) != NULL;)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      ret = copy_entry (src, dst, entry->d_name, what, depth, err);
    }
  if (ret == 0 && errno != 0)
    ret = nsbox_fail (err, errno, "list %s", what);
  closedir (dir);
  return ret;
}

int
nsbox_copy_up (int src_dir, int dst_dir, const char *what, struct nsbox_error *err)
{
  return copy_dir (src_dir, dst_dir, what, 0, err);
}
