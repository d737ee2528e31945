/* Mount-related child ops: rootfs, mount, mkdir, symlink, dev.bind, mknod, pivot_root,
 * mask, readonly.
 *
 * Every path inside the box is resolved from m->root_fd with RESOLVE_IN_ROOT and
 * RESOLVE_NO_MAGICLINKS (common.c), so a symlink in the rootfs, absolute or with `..`,
 * is followed the way the box would follow it and never leads to the host. The mount then
 * goes onto the resolved fd itself: bind mounts are cloned with open_tree(2), get their
 * flags with mount_setattr(2) while still detached (never visible read-write), and are
 * attached with move_mount(2) onto the target fd; other mounts use mount(2) on
 * /proc/self/fd/N of the target's O_PATH fd. */
#include "launcher.h"
#include "mount-flags.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

static void
fd_path (char *buf, size_t size, int fd)
{
  snprintf (buf, size, "/proc/self/fd/%d", fd);
}

/* Clones the mount tree at src_fd, sets attributes on the detached clone, and attaches
 * it onto target_fd. */
static int
bind_fd (int src_fd, int target_fd, bool recursive, uint64_t attr_set, uint64_t attr_clr,
         const char *what, struct nsbox_error *err)
{
  unsigned at_rec = recursive ? AT_RECURSIVE : 0;
  cleanup_fd int tree
      = open_tree (src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | at_rec);

  if (tree < 0)
    return nsbox_fail (err, errno, "clone the mount at %s", what);
  if (attr_set || attr_clr)
    {
      struct mount_attr attr = { .attr_set = attr_set, .attr_clr = attr_clr };
      if (mount_setattr (tree, "", AT_EMPTY_PATH | at_rec, &attr, sizeof attr) < 0)
        return nsbox_fail (err, errno, "set the flags of the bind mount of %s", what);
    }
  if (move_mount (tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
      < 0)
    return nsbox_fail (err, errno, "attach the bind mount of %s", what);
  return 0;
}

/* Changes propagation of the mount now on top of `path` (resolved again: the fd we hold
 * is the mountpoint underneath). */
static int
set_propagation (struct nsbox_mounts *m, const char *path, unsigned long propagation,
                 struct nsbox_error *err)
{
  struct mount_attr attr = { .propagation = propagation & ~MS_REC };
  cleanup_fd int fd = nsbox_open_in_root (m->root_fd, path, O_PATH | O_CLOEXEC, 0);

  if (fd < 0)
    return nsbox_fail (err, errno, "resolve '%s' in the root", path);
  if (mount_setattr (fd, "", AT_EMPTY_PATH | ((propagation & MS_REC) ? AT_RECURSIVE : 0),
                     &attr, sizeof attr)
      < 0)
    return nsbox_fail (err, errno, "set the propagation of '%s'", path);
  return 0;
}

static int
op_rootfs (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  const char *path = op->args[0];
  /* `shared` cannot be applied before pivot_root (which refuses shared mounts), nor
   * `unbindable` (the rootfs and the binds are bind mounts of what is below `/`): `/` is made
   * a slave or private first, and the box's root gets its propagation once it is built
   * (nsbox_mounts_finish). */
  unsigned long first = m->propagation == MS_SHARED      ? MS_SLAVE
                        : m->propagation == MS_UNBINDABLE ? MS_PRIVATE
                                                          : m->propagation;
  /* `rootfs PATH [FLAGS]`: `idmap` and mount attributes (`nosuid,nodev`), comma-separated. */
  struct nsbox_bind_attrs attrs = { 0 };

  if (op->argc > 1 && nsbox_parse_bind_attrs (op->args[1], &attrs, err) < 0)
    return -1;
  if (mount (NULL, "/", NULL, MS_REC | first, NULL) < 0)
    return nsbox_fail (err, errno, "make / recursively %s",
                       first == MS_SLAVE ? "slave" : "private");
  if (attrs.idmap || (m->trees && nsbox_trees_has (m->trees, path)))
    {
      /* The parent's clone of PATH (idmapped with `rootfs PATH idmap`; plain in a box
       * with a user namespace), attached onto PATH (opened before the uid switch: the
       * box's root may not be able to reach it). Its attributes were set by the parent,
       * on the host side, with the `tree` op. */
      cleanup_fd int tree = m->trees ? nsbox_trees_take (m->trees, path) : -1;

      if (tree < 0 || m->rootfs_target < 0)
        return nsbox_fail (err, EINVAL, "no tree was prepared for '%s'", path);
      if (move_mount (tree, "", m->rootfs_target, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          < 0)
        return nsbox_fail (err, errno, "attach the prepared mount of '%s'", path);
      /* The tree's fd is the root of the attached mount: the box's root from now on. */
      m->root_fd = nsbox_steal_fd (&tree);
      return 0;
    }
  /* A mount of its own: pivot_root needs new_root to be a mount point. */
  if (mount (path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return nsbox_fail (err, errno, "bind mount '%s' onto itself", path);
  m->root_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (m->root_fd < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  if (attrs.attr_set || attrs.attr_clr)
    {
      struct mount_attr attr = { .attr_set = attrs.attr_set, .attr_clr = attrs.attr_clr };
      if (mount_setattr (m->root_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        return nsbox_fail (err, errno, "set the attributes of the rootfs '%s'", path);
    }
  return 0;
}

/* The source of a bind mount: a host path before pivot_root (given by the runtime), a
 * path inside the box after it. */
static int
open_source (struct nsbox_mounts *m, const char *source, struct nsbox_error *err)
{
  int fd = m->pivoted ? nsbox_open_in_root (m->root_fd, source, O_PATH | O_CLOEXEC, 0)
                      : open (source, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail (err, errno, "open the source '%s'", source);
  return fd;
}

static bool
has_mode_option (const char *data)
{
  for (const char *p = data; p && *p; p = strchr (p, ','), p = p ? p + 1 : NULL)
    if (strncmp (p, "mode=", 5) == 0)
      return true;
  return false;
}

static int
op_mount (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  const char *source = op->args[0], *target = op->args[1], *fstype = op->args[2];
  const char *data = op->args[4];
  struct nsbox_mount_flags f;
  cleanup_fd int target_fd = -1;
  char what[PATH_MAX + 64];

  if (nsbox_parse_mount_flags (op->args[3], &f, err) < 0)
    return -1;
  snprintf (what, sizeof what, "'%s' on '%s'", source, target);

  if (f.bind && (f.idmap || (m->trees && !m->pivoted && nsbox_trees_has (m->trees, source))))
    {
      /* The parent's clone of the host path (idmapped or not: opened with the host's
       * credentials), its attributes already set. */
      cleanup_fd int tree = m->trees && !m->pivoted ? nsbox_trees_take (m->trees, source) : -1;
      struct stat st;

      if (tree < 0)
        return nsbox_fail (err, EINVAL, "no idmapped tree was prepared for '%s'", source);
      if (fstat (tree, &st) < 0)
        return nsbox_fail (err, errno, "stat '%s'", source);
      target_fd = nsbox_resolve_in_root (m->root_fd, target,
                                         S_ISDIR (st.st_mode) ? NSBOX_CREATE_DIR
                                                              : NSBOX_CREATE_FILE,
                                         S_ISDIR (st.st_mode) ? 0755 : 0644, err);
      if (target_fd < 0)
        return -1;
      if (move_mount (tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          < 0)
        return nsbox_fail (err, errno, "attach the prepared mount %s", what);
    }
  else if (f.bind)
    {
      cleanup_fd int src_fd = open_source (m, source, err);
      struct stat st;

      if (src_fd < 0)
        return -1;
      if (fstat (src_fd, &st) < 0)
        return nsbox_fail (err, errno, "stat '%s'", source);
      target_fd = nsbox_resolve_in_root (m->root_fd, target,
                                         S_ISDIR (st.st_mode) ? NSBOX_CREATE_DIR
                                                              : NSBOX_CREATE_FILE,
                                         S_ISDIR (st.st_mode) ? 0755 : 0644, err);
      if (target_fd < 0)
        return -1;
      if (bind_fd (src_fd, target_fd, f.recursive, f.attr_set, f.attr_clr, what, err) < 0)
        return -1;
    }
  else
    {
      char path[64];
      cleanup_free char *tmpfs_data = NULL;
      cleanup_fd int below = -1;
      struct stat st;

      target_fd = nsbox_resolve_in_root (m->root_fd, target, NSBOX_CREATE_DIR, 0755, err);
      if (target_fd < 0)
        return -1;
      /* A tmpfs without mode= takes the mode of the directory it covers, as with runc and
       * crun (the image's /tmp stays 1777 under a tmpfs). */
      if (strcmp (fstype, "tmpfs") == 0 && !has_mode_option (data) && fstat (target_fd, &st) == 0)
        {
          if (asprintf (&tmpfs_data, "%s%smode=%o", data, data[0] ? "," : "", st.st_mode & 07777) < 0)
            return nsbox_fail (err, ENOMEM, "mount %s", what);
          data = tmpfs_data;
        }
      /* tmpcopyup: the directory as it is now, before the tmpfs covers it. */
      if (f.copyup)
        {
          below = nsbox_open_in_root (m->root_fd, target, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
          if (below < 0)
            return nsbox_fail (err, errno, "open '%s' to copy it up", target);
        }
      fd_path (path, sizeof path, target_fd);
      /* Read-only once the copy is done. */
      if (mount (source[0] ? source : NULL, path, fstype[0] ? fstype : NULL,
                 f.copyup ? f.ms & ~MS_RDONLY : f.ms, data[0] ? data : NULL)
          < 0)
        return nsbox_fail (err, errno, "mount %s (%s)", what, fstype);
      if (f.copyup)
        {
          cleanup_fd int above
              = nsbox_open_in_root (m->root_fd, target, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
          if (above < 0)
            return nsbox_fail (err, errno, "open the new mount on '%s'", target);
          if (nsbox_copy_up (below, above, what, err) < 0)
            return -1;
          if (f.ms & MS_RDONLY)
            {
              struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
              if (mount_setattr (above, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
                return nsbox_fail (err, errno, "make %s read-only", what);
            }
        }
    }
  if (f.propagation)
    return set_propagation (m, target, f.propagation, err);
  return 0;
}

static int
parse_mode (const char *text, mode_t *mode)
{
  char *end;
  unsigned long value = strtoul (text, &end, 8);
  if (end == text || *end != '\0' || value > 07777)
    return -1;
  *mode = (mode_t) value;
  return 0;
}

static int
op_mkdir (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_fd int fd = -1;
  struct stat st;
  mode_t mode;

  if (parse_mode (op->args[1], &mode) < 0)
    return nsbox_fail (err, EINVAL, "bad mode '%s'", op->args[1]);
  fd = nsbox_resolve_in_root (m->root_fd, op->args[0], NSBOX_CREATE_DIR, mode, err);
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0)
    return nsbox_fail (err, errno, "stat '%s'", op->args[0]);
  if (!S_ISDIR (st.st_mode))
    return nsbox_fail (err, ENOTDIR, "mkdir '%s'", op->args[0]);
  return 0;
}

static int
op_symlink (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  const char *link_target = op->args[0], *path = op->args[1];
  char name[NAME_MAX + 1], existing[PATH_MAX];
  cleanup_fd int dir = nsbox_resolve_parent_in_root (m->root_fd, path, true, name,
                                                     sizeof name, err);
  ssize_t len;

  if (dir < 0)
    return -1;
  if (symlinkat (link_target, dir, name) == 0)
    return 0;
  if (errno != EEXIST)
    return nsbox_fail (err, errno, "symlink '%s' -> '%s'", path, link_target);
  /* Already there (an image may ship it): fine if it says the same thing. */
  len = readlinkat (dir, name, existing, sizeof existing - 1);
  if (len >= 0)
    {
      existing[len] = '\0';
      if (strcmp (existing, link_target) == 0)
        return 0;
    }
  return nsbox_fail (err, EEXIST, "symlink '%s' -> '%s'", path, link_target);
}

static int
op_dev_bind (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_fd int src_fd = open (op->args[0], O_PATH | O_CLOEXEC);
  cleanup_fd int target_fd = -1;
  char what[PATH_MAX + 64];
  struct stat st;

  if (src_fd < 0)
    return nsbox_fail (err, errno, "open '%s'", op->args[0]);
  if (fstat (src_fd, &st) < 0)
    return nsbox_fail (err, errno, "stat '%s'", op->args[0]);
  if (!S_ISCHR (st.st_mode) && !S_ISBLK (st.st_mode))
    return nsbox_fail (err, ENODEV, "'%s' is not a device", op->args[0]);
  target_fd = nsbox_resolve_in_root (m->root_fd, op->args[1], NSBOX_CREATE_FILE, 0644, err);
  if (target_fd < 0)
    return -1;
  snprintf (what, sizeof what, "'%s' on '%s'", op->args[0], op->args[1]);
  return bind_fd (src_fd, target_fd, false, 0, 0, what, err);
}

/* /dev/console is the box's own terminal: fd 0, the pty nsbox allocated for the box (the
 * shim's with --terminal, nsbox-runc's for `terminal: true`), bound onto the path, as LXC
 * does. The runtime asks for it only for a box with a terminal; a box without one has no
 * /dev/console. Never the host's system console (5:1). */
static int
op_console (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_fd int target_fd = -1;
  cleanup_fd int src_fd = -1;
  struct stat st;

  if (!isatty (STDIN_FILENO))
    return nsbox_fail (err, ENOTTY, "the box's stdin is not its terminal, for '%s'", op->args[0]);
  if (fstat (STDIN_FILENO, &st) < 0)
    return nsbox_fail (err, errno, "stat the box's terminal");
  if (major (st.st_rdev) == 5 || major (st.st_rdev) == 4)
    return nsbox_fail (err, EPERM, "the box's terminal is a host console (%u:%u)", major (st.st_rdev),
                       minor (st.st_rdev));
  /* fd 0 refers to a mount of the namespace we were cloned from, which open_tree cannot
   * clone here: its name (/dev/pts/N) in our copy of that namespace, checked to be the same
   * device node, can. */
  char name[PATH_MAX];
  struct stat named;
  if (ttyname_r (STDIN_FILENO, name, sizeof name) != 0)
    return nsbox_fail (err, errno, "name the box's terminal");
  src_fd = open (name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (src_fd < 0)
    return nsbox_fail (err, errno, "open the box's terminal '%s'", name);
  if (fstat (src_fd, &named) < 0 || named.st_rdev != st.st_rdev || named.st_ino != st.st_ino
      || named.st_dev != st.st_dev)
    return nsbox_fail (err, ENXIO, "'%s' is not the box's terminal", name);
  target_fd = nsbox_resolve_in_root (m->root_fd, op->args[0], NSBOX_CREATE_FILE, 0600, err);
  if (target_fd < 0)
    return -1;
  return bind_fd (src_fd, target_fd, false, 0, 0, "the box's terminal on /dev/console", err);
}

/* `mknod PATH TYPE MAJOR MINOR MODE [UID GID]`: a character or block device, or a fifo
 * (`p`, no device number); owned by UID:GID when given. */
static int
op_mknod (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  const char *path = op->args[0], *type = op->args[1];
  char name[NAME_MAX + 1];
  long long major, minor, uid = -1, gid = -1;
  cleanup_fd int dir = -1;
  mode_t mode;

  if (strcmp (type, "c") != 0 && strcmp (type, "b") != 0 && strcmp (type, "p") != 0)
    return nsbox_fail (err, EINVAL, "bad device type '%s'", type);
  if (nsbox_parse_long (op->args[2], 0, 0xfff, &major) < 0
      || nsbox_parse_long (op->args[3], 0, 0xfffff, &minor) < 0)
    return nsbox_fail (err, EINVAL, "bad device number '%s:%s'", op->args[2], op->args[3]);
  if (parse_mode (op->args[4], &mode) < 0)
    return nsbox_fail (err, EINVAL, "bad mode '%s'", op->args[4]);
  if (op->argc == 7
      && (nsbox_parse_long (op->args[5], 0, UINT32_MAX - 1, &uid) < 0
          || nsbox_parse_long (op->args[6], 0, UINT32_MAX - 1, &gid) < 0))
    return nsbox_fail (err, EINVAL, "bad owner '%s:%s'", op->args[5], op->args[6]);
  dir = nsbox_resolve_parent_in_root (m->root_fd, path, true, name, sizeof name, err);
  if (dir < 0)
    return -1;
  mode |= type[0] == 'c' ? S_IFCHR : type[0] == 'b' ? S_IFBLK : S_IFIFO;
  if (mknodat (dir, name, mode, type[0] == 'p' ? 0 : makedev (major, minor)) < 0)
    {
      if (errno != EEXIST)
        return nsbox_fail (err, errno, "mknod '%s'", path);
      /* A node already there (the image's, or a host device bound in): left as it is. */
      return 0;
    }
  /* The node just made, never through a symlink. */
  if (uid >= 0 && fchownat (dir, name, (uid_t) uid, (gid_t) gid, AT_SYMLINK_NOFOLLOW) < 0)
    return nsbox_fail (err, errno, "chown '%s' to %lld:%lld", path, uid, gid);
  return 0;
}

static int
op_pivot_root (struct nsbox_mounts *m, struct nsbox_error *err)
{
  if (fchdir (m->root_fd) < 0)
    return nsbox_fail (err, errno, "chdir into the rootfs");
  /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
   * no path to the host's tree in this mount namespace. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return nsbox_fail (err, errno, "pivot_root");
  if (umount2 (".", MNT_DETACH) < 0)
    return nsbox_fail (err, errno, "detach the old root");
  if (chdir ("/") < 0)
    return nsbox_fail (err, errno, "chdir '/'");
  close (m->root_fd);
  m->root_fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (m->root_fd < 0)
    return nsbox_fail (err, errno, "open the new root");
  m->pivoted = true;
  return 0;
}

int
nsbox_mounts_finish (struct nsbox_mounts *m, struct nsbox_error *err)
{
  if (m->propagation != MS_SHARED && m->propagation != MS_UNBINDABLE)
    return 0;
  if (m->pivoted && mount (NULL, "/", NULL, MS_REC | m->propagation, NULL) < 0)
    {
      err->step = "propagation";
      return nsbox_fail (err, errno, "make / recursively %s",
                         m->propagation == MS_SHARED ? "shared" : "unbindable");
    }
  return 0;
}

static bool
is_null_device (int fd)
{
  struct stat st;
  return fstat (fd, &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == makedev (1, 3);
}

/* Binds /dev/null over a file: from the detached clone of the host's (cloning a detached
 * mount needs Linux 6.15), or else from the box's /dev/null if it is the real device. */
static int
mask_file (struct nsbox_mounts *m, int target_fd, const char *path, struct nsbox_error *err)
{
  cleanup_fd int box_null = -1;

  if (bind_fd (m->null_fd, target_fd, false, 0, 0, path, err) == 0)
    return 0;
  if (err->errnum != EINVAL)
    return -1;
  box_null = nsbox_open_in_root (m->root_fd, "/dev/null", O_PATH | O_CLOEXEC, 0);
  if (box_null < 0 || !is_null_device (box_null))
    return nsbox_fail (err, box_null < 0 ? errno : ENODEV,
                       "mask '%s': no /dev/null device in the box to bind", path);
  return bind_fd (box_null, target_fd, false, 0, 0, path, err);
}

static int
op_mask (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_fd int target_fd = nsbox_open_in_root (m->root_fd, op->args[0], O_PATH | O_CLOEXEC, 0);
  struct stat st;

  if (target_fd < 0 && errno == ENOENT)
    return 0;
  if (target_fd < 0)
    return nsbox_fail (err, errno, "resolve '%s' in the root", op->args[0]);
  if (fstat (target_fd, &st) < 0)
    return nsbox_fail (err, errno, "stat '%s'", op->args[0]);
  if (S_ISDIR (st.st_mode))
    {
      /* An empty read-only tmpfs, made with the new mount API so that this works even
       * when the box has no /proc to reach /proc/self/fd. */
      cleanup_fd int fs = fsopen ("tmpfs", FSOPEN_CLOEXEC);
      cleanup_fd int mnt = -1;

      if (fs < 0)
        return nsbox_fail (err, errno, "fsopen tmpfs");
      if (fsconfig (fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0
          || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return nsbox_fail (err, errno, "create a tmpfs to mask '%s'", op->args[0]);
      mnt = fsmount (fs, FSMOUNT_CLOEXEC,
                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                         | MOUNT_ATTR_NOEXEC);
      if (mnt < 0)
        return nsbox_fail (err, errno, "fsmount a tmpfs to mask '%s'", op->args[0]);
      if (move_mount (mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          < 0)
        return nsbox_fail (err, errno, "mount a tmpfs over '%s'", op->args[0]);
      return 0;
    }
  return mask_file (m, target_fd, op->args[0], err);
}

static int
op_readonly (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_fd int target_fd = nsbox_open_in_root (m->root_fd, op->args[0], O_PATH | O_CLOEXEC, 0);

  if (target_fd < 0 && errno == ENOENT)
    return 0;
  if (target_fd < 0)
    return nsbox_fail (err, errno, "resolve '%s' in the root", op->args[0]);
  if (op->argc > 1)
    {
      /* `top`: the mount at PATH itself, in place; the mounts below keep their flags (a
       * read-only root with writable binds inside it). */
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
      if (strcmp (op->args[1], "top") != 0)
        return nsbox_fail (err, EINVAL, "unknown readonly option '%s'", op->args[1]);
      if (mount_setattr (target_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        return nsbox_fail (err, errno, "make the mount at '%s' read-only", op->args[0]);
      return 0;
    }
  /* Bind onto itself, read-only (recursively) before it is attached. */
  return bind_fd (target_fd, target_fd, true, MOUNT_ATTR_RDONLY, 0, op->args[0], err);
}

int
nsbox_mounts_init (const struct nsbox_program *prog, struct nsbox_mounts *m,
                   struct nsbox_error *err)
{
  const struct nsbox_op *prop = nsbox_program_find (prog, "propagation");

  m->root_fd = -1;
  m->pivoted = false;
  m->propagation = MS_PRIVATE;
  if (prop)
    {
      if (strcmp (prop->args[0], "private") == 0)
        m->propagation = MS_PRIVATE;
      else if (strcmp (prop->args[0], "slave") == 0)
        m->propagation = MS_SLAVE;
      else if (strcmp (prop->args[0], "shared") == 0)
        m->propagation = MS_SHARED;
      else if (strcmp (prop->args[0], "unbindable") == 0)
        m->propagation = MS_UNBINDABLE;
      else
        {
          err->step = "propagation";
          return nsbox_fail (err, EINVAL, "unknown propagation '%s'", prop->args[0]);
        }
    }
  if (nsbox_program_find (prog, "mask") == NULL)
    return 0;
  /* A detached clone of the host's /dev/null mount, taken while the host tree is still
   * visible: `mask` binds it over files after pivot_root, and the rootfs's own /dev/null
   * could be anything. Detached, it does not go away with the old root. */
  m->null_fd = open_tree (AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (m->null_fd < 0 || !is_null_device (m->null_fd))
    {
      err->step = "mask";
      return nsbox_fail (err, m->null_fd < 0 ? errno : ENODEV, "clone the host's /dev/null");
    }
  return 0;
}

int
nsbox_mount_op (struct nsbox_mounts *m, const struct nsbox_op *op, struct nsbox_error *err)
{
  const char *name = op->name;

  if (strcmp (name, "rootfs") == 0)
    return op_rootfs (m, op, err);
  if (strcmp (name, "propagation") == 0)
    return 0; /* read once by nsbox_mounts_init */
  if (strcmp (name, "mount") == 0)
    return op_mount (m, op, err);
  if (strcmp (name, "mkdir") == 0)
    return op_mkdir (m, op, err);
  if (strcmp (name, "symlink") == 0)
    return op_symlink (m, op, err);
  if (strcmp (name, "dev.bind") == 0)
    return op_dev_bind (m, op, err);
  if (strcmp (name, "console") == 0)
    return op_console (m, op, err);
  if (strcmp (name, "mknod") == 0)
    return op_mknod (m, op, err);
  if (strcmp (name, "pivot_root") == 0)
    return op_pivot_root (m, err);
  if (strcmp (name, "mask") == 0)
    return op_mask (m, op, err);
  if (strcmp (name, "readonly") == 0)
    return op_readonly (m, op, err);
  return 1;
}

void
nsbox_mounts_release (struct nsbox_mounts *m)
{
  if (m->root_fd >= 0)
    close (m->root_fd);
  if (m->null_fd >= 0)
    close (m->null_fd);
  if (m->rootfs_target >= 0)
    close (m->rootfs_target);
  m->root_fd = m->null_fd = m->rootfs_target = -1;
}
