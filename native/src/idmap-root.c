/* nsbox-idmap-root: runs a program (criu restore) in a mount namespace of its own, where
 * TARGET shows ROOTFS as the box saw it — idmapped with the box's maps and with its mount
 * attributes. criu restores a box's root from a path (`--root`) and binds it as it is: given
 * the plain rootfs, a box with a user namespace would come back with files owned by host uid
 * 0 that its root may not write, and without nosuid/nodev. The mount lives only in this
 * namespace (private propagation): the host never sees it, and it goes when the namespace
 * does (the restored box holds its own bind of it).
 *
 *   nsbox-idmap-root ROOTFS TARGET UIDMAP GIDMAP ATTRS PROGRAM [ARG...]
 *
 * UIDMAP and GIDMAP are uid_map lines ("0 1000000 65536\n"); ATTRS the launcher's bind
 * attributes (`idmap,nosuid,nodev`; native/PROTOCOL.md §1 `tree`). Exits 125 with a message
 * on stderr when the mount cannot be made; otherwise PROGRAM's own status. */
#include "common.h"
#include "mount-flags.h"
#include "userns-map.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int
mount_root (char **argv, struct nsbox_error *err)
{
  const char *rootfs = argv[1], *target = argv[2];
  struct nsbox_bind_attrs attrs;
  cleanup_fd int userns = -1;
  cleanup_fd int tree = -1;

  if (nsbox_parse_bind_attrs (argv[5], &attrs, err) < 0)
    return -1;
  if (unshare (CLONE_NEWNS) < 0)
    return nsbox_fail (err, errno, "unshare the mount namespace");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return nsbox_fail (err, errno, "make / private");
  if (attrs.idmap && nsbox_mapped_userns (argv[3], argv[4], &userns, err) < 0)
    return -1;
  tree = open_tree (AT_FDCWD, rootfs,
                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (attrs.recursive ? AT_RECURSIVE : 0));
  if (tree < 0)
    return nsbox_fail (err, errno, "clone the mount at '%s'", rootfs);
  struct mount_attr attr = {
    .attr_set = attrs.attr_set | (attrs.idmap ? MOUNT_ATTR_IDMAP : 0),
    .attr_clr = attrs.attr_clr,
    .propagation = MS_PRIVATE,
    .userns_fd = attrs.idmap ? (uint64_t) userns : 0,
  };
  if (mount_setattr (tree, "", AT_EMPTY_PATH | (attrs.recursive ? AT_RECURSIVE : 0), &attr,
                     sizeof attr)
      < 0)
    return nsbox_fail (err, errno, "set the attributes of the mount of '%s'", rootfs);
  if (move_mount (tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return nsbox_fail (err, errno, "attach the mount of '%s' at '%s'", rootfs, target);
  return 0;
}

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };

  if (argc < 7)
    {
      dprintf (2, "usage: nsbox-idmap-root ROOTFS TARGET UIDMAP GIDMAP ATTRS PROGRAM [ARG...]\n");
      return 125;
    }
  if (mount_root (argv, &err) < 0)
    {
      dprintf (2, "nsbox-idmap-root: %s\n", err.msg);
      return 125;
    }
  execv (argv[6], argv + 6);
  dprintf (2, "nsbox-idmap-root: exec '%s': %s\n", argv[6], strerror (errno));
  return 125;
}
