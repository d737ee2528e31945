/* Mount option names as mount(2) flags, mount_setattr(2) attributes and propagation. */
#include "mount-flags.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

static const struct
{
  const char *name;
  unsigned long ms_set, ms_clr;
  uint64_t attr_set, attr_clr;
} flag_names[] = {
  { "defaults", 0, 0, 0, 0 },
  { "ro", MS_RDONLY, 0, MOUNT_ATTR_RDONLY, 0 },
  { "rw", 0, MS_RDONLY, 0, MOUNT_ATTR_RDONLY },
  { "nosuid", MS_NOSUID, 0, MOUNT_ATTR_NOSUID, 0 },
  { "suid", 0, MS_NOSUID, 0, MOUNT_ATTR_NOSUID },
  { "nodev", MS_NODEV, 0, MOUNT_ATTR_NODEV, 0 },
  { "dev", 0, MS_NODEV, 0, MOUNT_ATTR_NODEV },
  { "noexec", MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC, 0 },
  { "exec", 0, MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC },
  { "sync", MS_SYNCHRONOUS, 0, 0, 0 },
  { "async", 0, MS_SYNCHRONOUS, 0, 0 },
  { "dirsync", MS_DIRSYNC, 0, 0, 0 },
  { "mand", 0, 0, 0, 0 }, /* gone from the kernel; accepted and ignored */
  { "nomand", 0, 0, 0, 0 },
  { "noatime", MS_NOATIME, 0, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME },
  { "atime", 0, MS_NOATIME, 0, 0 },
  { "relatime", MS_RELATIME, 0, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
  { "norelatime", 0, MS_RELATIME, 0, 0 },
  { "strictatime", MS_STRICTATIME, 0, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME },
  { "nostrictatime", 0, MS_STRICTATIME, 0, 0 },
  { "nodiratime", MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME, 0 },
  { "diratime", 0, MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME },
  { "lazytime", MS_LAZYTIME, 0, 0, 0 },
  { "nolazytime", 0, MS_LAZYTIME, 0, 0 },
  { "nosymfollow", MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW, 0 },
  { "symfollow", 0, MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW },
};

static const struct
{
  const char *name;
  unsigned long propagation;
} propagation_names[] = {
  { "private", MS_PRIVATE },           { "rprivate", MS_PRIVATE | MS_REC },
  { "slave", MS_SLAVE },               { "rslave", MS_SLAVE | MS_REC },
  { "shared", MS_SHARED },             { "rshared", MS_SHARED | MS_REC },
  { "unbindable", MS_UNBINDABLE },     { "runbindable", MS_UNBINDABLE | MS_REC },
};

static int
parse_one_flag (const char *name, struct nsbox_mount_flags *f)
{
  if (strcmp (name, "bind") == 0 || strcmp (name, "rbind") == 0)
    {
      f->bind = true;
      f->recursive = name[0] == 'r';
      return 0;
    }
  if (strcmp (name, "idmap") == 0)
    {
      f->idmap = true;
      return 0;
    }
  if (strcmp (name, "tmpcopyup") == 0)
    {
      f->copyup = true;
      return 0;
    }
  for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
    if (strcmp (flag_names[i].name, name) == 0)
      {
        f->ms = (f->ms & ~flag_names[i].ms_clr) | flag_names[i].ms_set;
        f->attr_set = (f->attr_set & ~flag_names[i].attr_clr) | flag_names[i].attr_set;
        f->attr_clr = (f->attr_clr & ~flag_names[i].attr_set) | flag_names[i].attr_clr;
        return 0;
      }
  for (size_t i = 0; i < sizeof propagation_names / sizeof propagation_names[0]; i++)
    if (strcmp (propagation_names[i].name, name) == 0)
      {
        f->propagation = propagation_names[i].propagation;
        return 0;
      }
  return -1;
}

int
nsbox_parse_mount_flags (const char *text, struct nsbox_mount_flags *f, struct nsbox_error *err)
{
  cleanup_free char *copy = strdup (text);
  char *save = NULL;

  memset (f, 0, sizeof *f);
  if (copy == NULL)
    return nsbox_fail (err, ENOMEM, "parse mount flags");
  for (char *name = strtok_r (copy, ",", &save); name; name = strtok_r (NULL, ",", &save))
    if (parse_one_flag (name, f) < 0)
      return nsbox_fail (err, EINVAL, "unknown mount flag '%s'", name);
  /* Atime bits are clear-and-set as a group in mount_setattr(2). */
  if (f->attr_set & MOUNT_ATTR__ATIME)
    f->attr_clr |= MOUNT_ATTR__ATIME;
  return 0;
}

int
nsbox_parse_bind_attrs (const char *text, struct nsbox_bind_attrs *attrs,
                        struct nsbox_error *err)
{
  struct nsbox_mount_flags f;

  if (nsbox_parse_mount_flags (text, &f, err) < 0)
    return -1;
  if (f.ms & ~(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_RELATIME
               | MS_STRICTATIME | MS_NODIRATIME | MS_NOSYMFOLLOW)
      || f.propagation || f.copyup)
    return nsbox_fail (err, EINVAL, "flags '%s' are not all mount attributes", text);
  attrs->recursive = f.recursive;
  attrs->idmap = f.idmap;
  attrs->attr_set = f.attr_set;
  attrs->attr_clr = f.attr_clr;
  return 0;
}
