/* Mount option names (`ro,nosuid,rbind,idmap,rslave,...`) as mount(2) flags, mount_setattr(2)
 * attributes and propagation: the one parser of the launcher's `mount`, `tree` and `rootfs`
 * flags (as crun's mount_flags.c). */
#ifndef NSBOX_MOUNT_FLAGS_H
#define NSBOX_MOUNT_FLAGS_H

#include "common.h"

struct nsbox_mount_flags
{
  unsigned long ms;            /* for mount(2) */
  unsigned long propagation;   /* MS_PRIVATE... (with MS_REC for the r* forms), or 0 */
  bool bind, recursive;
  bool idmap;                  /* the bind mount is a tree the parent idmapped */
  bool copyup;                 /* `tmpcopyup`: the tmpfs gets what the directory held */
  uint64_t attr_set, attr_clr; /* for mount_setattr(2) on bind mounts */
};

/* Parses a comma-separated list; an unknown name is EINVAL. */
int nsbox_parse_mount_flags (const char *text, struct nsbox_mount_flags *flags,
                             struct nsbox_error *err);

/* The flags of a `tree` op (and of bind mounts): recursion, mount_setattr(2) attributes
 * and whether the mount is idmapped; anything that is not one of those is EINVAL. */
struct nsbox_bind_attrs
{
  bool recursive, idmap;
  uint64_t attr_set, attr_clr;
};
int nsbox_parse_bind_attrs (const char *text, struct nsbox_bind_attrs *attrs,
                            struct nsbox_error *err);

#endif
