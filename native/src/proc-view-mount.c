/* The first server's child: mounts the box's FUSE connection (a detached mount made with the
 * new mount API, never visible anywhere) and binds each of its files over the box's file
 * (`/proc/meminfo`, ...), in the box's mount namespace. Runs while the box's init is held
 * before exec, so nothing in the box races it; the targets are still resolved inside the
 * box's root without following any symlink, and only a file on procfs or sysfs is covered.
 * A box without the target (no /sys) keeps nothing there: that file is skipped. */
#include "proc-view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include "openat2.h"
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

static int
sys_fsopen (const char *fs, unsigned flags)
{
  return (int) syscall (SYS_fsopen, fs, flags);
}

static int
sys_fsconfig (int fd, unsigned cmd, const char *key, const char *value, int aux)
{
  return (int) syscall (SYS_fsconfig, fd, cmd, key, value, aux);
}

static int
sys_fsmount (int fd, unsigned flags, unsigned attrs)
{
  return (int) syscall (SYS_fsmount, fd, flags, attrs);
}

static int
sys_open_tree (int dfd, const char *path, unsigned flags)
{
  return (int) syscall (SYS_open_tree, dfd, path, flags);
}

static int
sys_move_mount (int from, const char *from_path, int to, const char *to_path, unsigned flags)
{
  return (int) syscall (SYS_move_mount, from, from_path, to, to_path, flags);
}

/* The FUSE filesystem on `fuse_fd`, as a detached mount (nosuid, nodev, noexec; each view's
 * bind but /dev/kmsg's is made read-only). */
static int
make_mount (int fuse_fd, struct nsbox_error *err)
{
  cleanup_fd int fs = sys_fsopen ("fuse", FSOPEN_CLOEXEC);
  char fd_text[16];
  int mnt;

  if (fs < 0)
    return nsbox_fail (err, errno, "fsopen fuse");
  snprintf (fd_text, sizeof fd_text, "%d", fuse_fd);
  if (sys_fsconfig (fs, FSCONFIG_SET_STRING, "source", "nsbox-proc-view", 0) < 0
      || sys_fsconfig (fs, FSCONFIG_SET_STRING, "fd", fd_text, 0) < 0
      || sys_fsconfig (fs, FSCONFIG_SET_STRING, "rootmode", "40555", 0) < 0
      || sys_fsconfig (fs, FSCONFIG_SET_STRING, "user_id", "0", 0) < 0
      || sys_fsconfig (fs, FSCONFIG_SET_STRING, "group_id", "0", 0) < 0
      /* The box's processes are not the mounter (host root): without it, none could read. */
      || sys_fsconfig (fs, FSCONFIG_SET_FLAG, "allow_other", NULL, 0) < 0
      || sys_fsconfig (fs, FSCONFIG_SET_FLAG, "default_permissions", NULL, 0) < 0)
    return nsbox_fail (err, errno, "fsconfig fuse");
  if (sys_fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return nsbox_fail (err, errno, "fsconfig create fuse");
  mnt = sys_fsmount (fs, FSMOUNT_CLOEXEC,
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0)
    return nsbox_fail (err, errno, "fsmount fuse");
  return mnt;
}

/* The box's file at `target` (relative to its root), never through a symlink; -1 with
 * errno ENOENT when it is not there or not on procfs/sysfs (nothing to cover). */
static int
open_target (int root, const char *target)
{
  struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
  struct statfs sfs;
  int fd = nsbox_openat2 (root, target, &how);

  if (fd < 0)
    return -1;
  if (fstatfs (fd, &sfs) < 0 || (sfs.f_type != PROC_SUPER_MAGIC && sfs.f_type != SYSFS_MAGIC))
    {
      close (fd);
      errno = ENOENT;
      return -1;
    }
  return fd;
}

/* The box's /dev/kmsg: its own /dev is a tmpfs the launcher made, where a box has no kmsg
 * device (the host's is never given); an empty file is made there to bind the view over. */
static int
open_kmsg_target (const struct view_config *cfg, int root)
{
  struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
  cleanup_fd int dev = nsbox_openat2 (root, "dev", &how);
  struct statfs sfs;
  int fd;

  if (dev < 0)
    return -1;
  if (fstatfs (dev, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
    {
      errno = ENOENT;
      return -1;
    }
  fd = openat (dev, "kmsg", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      int made;
      /* Made as the box's root: the tmpfs belongs to the box's user namespace, where the
       * host's root has no id (EOVERFLOW). This child ends right after. */
      setfsgid (cfg->owner_gid);
      setfsuid (cfg->owner_uid);
      made = openat (dev, "kmsg", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      setfsuid (0);
      setfsgid (0);
      if (made < 0)
        return -1;
      close (made);
      fd = openat (dev, "kmsg", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
  return fd;
}

/* Kernels before 6.15 clone a tree (OPEN_TREE_CLONE) only from a mount of the caller's own
 * mount namespace, never from a detached one (EINVAL) — Debian 12's 6.1 is one. So the
 * detached FUSE mounts are first attached in a mount namespace of this child's own, on a
 * tmpfs over its /proc (no longer needed: the box's root and namespace are open), where each
 * view is cloned; the clones are what the child then attaches in the box's namespace. The
 * namespace is private, so nothing of it reaches the host's, and it ends with this child. */
static int
stage_privately (int views, int kmsg, struct nsbox_error *err)
{
  cleanup_fd int fs = -1;
  cleanup_fd int stage = -1;

  if (unshare (CLONE_NEWNS) < 0)
    return nsbox_fail (err, errno, "unshare a mount namespace to stage the views in");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return nsbox_fail (err, errno, "make the staging mount namespace private");
  fs = sys_fsopen ("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0 || sys_fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return nsbox_fail (err, errno, "make the staging tmpfs");
  stage = sys_fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (stage < 0)
    return nsbox_fail (err, errno, "fsmount the staging tmpfs");
  if (sys_move_mount (stage, "", AT_FDCWD, "/proc", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return nsbox_fail (err, errno, "attach the staging tmpfs");
  if ((views >= 0 && mkdirat (stage, "views", 0700) < 0) || (kmsg >= 0 && mkdirat (stage, "kmsg", 0700) < 0))
    return nsbox_fail (err, errno, "make the staging directories");
  if (views >= 0 && sys_move_mount (views, "", stage, "views", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return nsbox_fail (err, errno, "stage the views' mount");
  if (kmsg >= 0 && sys_move_mount (kmsg, "", stage, "kmsg", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return nsbox_fail (err, errno, "stage /dev/kmsg's mount");
  return 0;
}

static void
close_trees (int *trees)
{
  for (int i = 0; i < VIEW_FILES; i++)
    if (trees[i] >= 0)
      close (trees[i]);
}

int
view_mount (const struct view_config *cfg, int views_fd, int kmsg_fd, struct nsbox_error *err)
{
  char path[64];
  cleanup_fd int root = -1;
  cleanup_fd int ns = -1;
  cleanup_fd int views = -1;
  cleanup_fd int kmsg = -1;
  int trees[VIEW_FILES];
  bool any_view = false;
  int rc = -1;

  for (int i = 0; i < VIEW_FILES; i++)
    trees[i] = -1;
  snprintf (path, sizeof path, "/proc/%d/root", (int) cfg->init_pid);
  root = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  snprintf (path, sizeof path, "/proc/%d/ns/mnt", (int) cfg->init_pid);
  ns = open (path, O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  for (int i = 0; i < VIEW_FILES; i++)
    any_view |= i != VIEW_KMSG && cfg->files[i];
  /* Each connection its own filesystem: the views' opens and /dev/kmsg's differ (proc-view.c). */
  if (any_view && (views = make_mount (views_fd, err)) < 0)
    return -1;
  if (cfg->files[VIEW_KMSG] && (kmsg = make_mount (kmsg_fd, err)) < 0)
    return -1;
  if (stage_privately (views, kmsg, err) < 0)
    return -1;
  for (int i = 0; i < VIEW_FILES; i++)
    {
      if (!cfg->files[i])
        continue;
      trees[i] = sys_open_tree (i == VIEW_KMSG ? kmsg : views, view_files[i].name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (trees[i] < 0)
        {
          nsbox_fail (err, errno, "open_tree %s of the views", view_files[i].name);
          goto out;
        }
      if (i != VIEW_KMSG)
        {
          struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
          if (syscall (SYS_mount_setattr, trees[i], "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
            {
              nsbox_fail (err, errno, "make the view of /%s read-only", view_files[i].target);
              goto out;
            }
        }
    }
  /* move_mount attaches only in the caller's own mount namespace. */
  if (setns (ns, CLONE_NEWNS) < 0)
    {
      nsbox_fail (err, errno, "setns into the box's mount namespace");
      goto out;
    }
  for (int i = 0; i < VIEW_FILES; i++)
    {
      cleanup_fd int target = -1;

      if (trees[i] < 0)
        continue;
      target = i == VIEW_KMSG ? open_kmsg_target (cfg, root) : open_target (root, view_files[i].target);
      if (target < 0)
        {
          if (errno == ENOENT)
            continue;
          nsbox_fail (err, errno, "open the box's /%s", view_files[i].target);
          goto out;
        }
      if (sys_move_mount (trees[i], "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        {
          nsbox_fail (err, errno, "bind the view over the box's /%s", view_files[i].target);
          goto out;
        }
    }
  rc = 0;
out:
  close_trees (trees);
  return rc;
}
