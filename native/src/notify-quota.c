/* quotactl(2) and quotactl_fd(2) of a box, served by its nsbox-notify (issue 15: OpenVZ's
 * second-level quota). A box's root administers the user and group quotas of its own disk
 * image — the limits plugin's ext4 image, made with the `quota` feature — and nothing else.
 *
 * Params (native/PROTOCOL.md §2): `reason TEXT` refuses every call with EOPNOTSUPP and the
 * reason in the box's shim.log (a kernel without quota support, a box without an image of
 * its own); else `device PATH` is the image's loop device on the host, and `disk-uid-map` /
 * `disk-gid-map` (`INSIDE OUTSIDE COUNT[,...]`, the box's map) say that the image stores the
 * box's ids (an idmapped root); without them it stores the host's ids.
 *
 * What the box names must be its image, as the box sees it: `special` resolved in the
 * caller's root (symlinks stay inside it) to a block device node with the image's device
 * number, or — as quota tools pass it, the node being absent from the box's /dev — the very
 * source string the caller's own mount table gives the image's mount; quotactl_fd's fd must
 * be a file of the image. Anything else gets the kernel's errno for it (ENOENT, ENOTBLK,
 * ENODEV; EPERM for an fd elsewhere), and quotactl never runs on another device: the
 * helper only ever runs it on `device`, the path the runtime gave.
 *
 * Ids: the caller's id → host id through its own uid_map/gid_map (a nested user namespace
 * included) → the id on disk; one outside the maps is EINVAL, as the kernel says. Rights as
 * the kernel's check_quotactl_permission, with the box's CAP_SYS_ADMIN for the host's: any
 * caller may Q_GETFMT, Q_GETINFO, Q_SYNC and Q_GETQUOTA its own euid / groups; the rest
 * needs CAP_SYS_ADMIN in the box's own user namespace (not a nested one). Q_QUOTAON,
 * Q_QUOTAOFF and the XFS commands are refused (EPERM, with the reason in the log): the
 * host turned the image's accounting on and keeps it on. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <linux/quota.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "openat2.h"
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

enum
{
  MAP_EXTENTS_MAX = 64,
  GROUPS_MAX = 256,
  NEXT_TRIES_MAX = 1024, /* disk ids outside the box's map skipped by one GETNEXTQUOTA */
  CAP_SYS_ADMIN_BIT = 21,
};

struct id_extent
{
  uint32_t inside, outside, count;
};

struct id_map
{
  struct id_extent ext[MAP_EXTENTS_MAX];
  unsigned n;
};

static const char *const quotactl_params[] = { "reason", "device", "disk-uid-map", "disk-gid-map", NULL };

/* `INSIDE OUTSIDE COUNT` extents separated by `,` or newlines (the uid_map format). */
static bool
parse_map (const char *text, struct id_map *map)
{
  const char *p = text;

  map->n = 0;
  while (*p)
    {
      unsigned long in, out, count;
      int used = 0;

      while (*p == ',' || *p == '\n' || *p == ' ')
        p++;
      if (*p == '\0')
        break;
      if (map->n == MAP_EXTENTS_MAX || sscanf (p, "%lu %lu %lu%n", &in, &out, &count, &used) != 3 || used == 0
          || in > UINT32_MAX || out > UINT32_MAX || count > UINT32_MAX)
        return false;
      map->ext[map->n++] = (struct id_extent){ (uint32_t) in, (uint32_t) out, (uint32_t) count };
      p += used;
    }
  return true;
}

/* inside → outside; false: unmapped. */
static bool
map_out (const struct id_map *map, uint32_t id, uint32_t *out)
{
  for (unsigned i = 0; i < map->n; i++)
    if (id >= map->ext[i].inside && id - map->ext[i].inside < map->ext[i].count)
      return *out = map->ext[i].outside + (id - map->ext[i].inside), true;
  return false;
}

/* outside → inside; false: unmapped. */
static bool
map_in (const struct id_map *map, uint32_t id, uint32_t *in)
{
  for (unsigned i = 0; i < map->n; i++)
    if (id >= map->ext[i].outside && id - map->ext[i].outside < map->ext[i].count)
      return *in = map->ext[i].inside + (id - map->ext[i].outside), true;
  return false;
}

int
notify_quotactl_check (const struct notify_rule *rule, struct nsbox_error *err)
{
  struct id_map map;

  if (notify_check_params (rule, quotactl_params, err) < 0)
    return -1;
  if (notify_param (rule, "reason") == NULL && notify_param (rule, "device") == NULL)
    return nsbox_fail (err, EINVAL, "handler %s needs 'reason' or 'device'", rule->handler);
  for (const char *const *k = quotactl_params + 2; *k; k++)
    if (notify_param (rule, *k) && !parse_map (notify_param (rule, *k), &map))
      return nsbox_fail (err, EINVAL, "handler %s: '%s' is not INSIDE OUTSIDE COUNT[,...] (at most %d)", rule->handler,
                         *k, MAP_EXTENTS_MAX);
  return 0;
}

/* A small file of the caller's /proc dir, NUL-terminated; its length or -1. */
static ssize_t
read_proc (const struct notify_call *call, const char *name, char *buf, size_t size)
{
  cleanup_fd int fd = openat (call->pid_dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, size - 1);

  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* What the kernel's permission check needs of the caller, in host ids. */
struct caller
{
  uint32_t euid, egid;
  uint32_t groups[GROUPS_MAX];
  unsigned n_groups;
  bool admin; /* CAP_SYS_ADMIN in the box's own user namespace */
  struct id_map uid_map, gid_map;
};

/* The caller's user namespace is the box's own: a child of ours (the host's), or ours for a
 * box without one. A nested namespace's capabilities stay inside it, as the kernel's do. */
static bool
in_box_userns (const struct notify_call *call)
{
  cleanup_fd int ns = openat (call->pid_dir, "ns/user", O_RDONLY | O_CLOEXEC);
  cleanup_fd int own = open ("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  cleanup_fd int parent = -1;
  struct stat a, b;

  if (ns < 0 || own < 0 || fstat (ns, &a) < 0 || fstat (own, &b) < 0)
    return false;
  if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    return true;
  parent = ioctl (ns, NS_GET_PARENT);
  return parent >= 0 && fstat (parent, &a) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static bool
read_caller (const struct notify_call *call, struct caller *c)
{
  static char buf[8192];
  const char *line;
  unsigned long long caps = 0;
  unsigned long r, e;

  memset (c, 0, sizeof *c);
  if (read_proc (call, "uid_map", buf, sizeof buf) < 0 || !parse_map (buf, &c->uid_map))
    return false;
  if (read_proc (call, "gid_map", buf, sizeof buf) < 0 || !parse_map (buf, &c->gid_map))
    return false;
  /* /proc/PID/status shows ids as the reader's (the host's) user namespace sees them. */
  if (read_proc (call, "status", buf, sizeof buf) < 0)
    return false;
  if (!(line = strstr (buf, "\nUid:")) || sscanf (line, "\nUid: %lu %lu", &r, &e) != 2)
    return false;
  c->euid = (uint32_t) e;
  if (!(line = strstr (buf, "\nGid:")) || sscanf (line, "\nGid: %lu %lu", &r, &e) != 2)
    return false;
  c->egid = (uint32_t) e;
  if ((line = strstr (buf, "\nGroups:")))
    {
      char *p = (char *) line + strlen ("\nGroups:"), *end;
      while (c->n_groups < GROUPS_MAX)
        {
          unsigned long g = strtoul (p, &end, 10);
          if (end == p || *p == '\n')
            break;
          c->groups[c->n_groups++] = (uint32_t) g;
          p = end;
        }
    }
  if (!(line = strstr (buf, "\nCapEff:")) || sscanf (line, "\nCapEff: %llx", &caps) != 1)
    return false;
  c->admin = (caps & (1ULL << CAP_SYS_ADMIN_BIT)) && in_box_userns (call);
  return true;
}

static bool
in_groups (const struct caller *c, uint32_t gid)
{
  if (c->egid == gid)
    return true;
  for (unsigned i = 0; i < c->n_groups; i++)
    if (c->groups[i] == gid)
      return true;
  return false;
}

/* The caller's `special` string (NUL-terminated, at most PATH_MAX); -errno. */
static int
read_special (const struct notify_call *call, uint64_t addr, char *out, size_t size)
{
  size_t got = 0;

  while (got < size)
    {
      /* Page by page: a string near the end of a mapping is no fault. */
      size_t chunk = 4096 - ((addr + got) & 4095);
      ssize_t n;
      if (chunk > size - got)
        chunk = size - got;
      n = pread (call->mem_fd, out + got, chunk, (off_t) (addr + got));
      if (n <= 0)
        return -EFAULT;
      if (memchr (out + got, '\0', (size_t) n))
        return 0;
      got += (size_t) n;
    }
  return -ENAMETOOLONG;
}

/* Whether the caller's own mount table has a mount of `dev` whose source is `special`. */
static bool
mount_source_is (const struct notify_call *call, dev_t dev, const char *special)
{
  static char buf[1 << 16];

  if (read_proc (call, "mountinfo", buf, sizeof buf) < 0)
    return false;
  for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL)
    {
      static char source[PATH_MAX];
      unsigned maj, min;
      const char *dash;

      nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      /* `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS` */
      dash = strstr (line, " - ");
      if (sscanf (line, "%*u %*u %u:%u", &maj, &min) == 2 && maj == major (dev) && min == minor (dev) && dash
          && sscanf (dash, " - %*s %4095s", source) == 1 && strcmp (source, special) == 0)
        return true;
    }
  return false;
}

/* `special`, as the box sees it, names the image (0) or what errno the kernel would give. */
static int
check_special (const struct notify_call *call, const char *special, dev_t image)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  cleanup_fd int root = -1, fd = -1;
  struct stat st;

  if (special[0] != '/')
    {
      /* Relative to the caller's cwd, never above it (`..` could leave the box's root). */
      root = openat (call->pid_dir, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    }
  else
    root = openat (call->pid_dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return -ENOENT;
  fd = nsbox_openat2 (root, special, &how);
  if (fd < 0)
    return mount_source_is (call, image, special) ? 0 : -ENOENT;
  if (fstat (fd, &st) < 0)
    return -ENOENT;
  if (!S_ISBLK (st.st_mode))
    return -ENOTBLK;
  return st.st_rdev == image ? 0 : -ENODEV;
}

/* quotactl_fd's fd is a file of the image (0), or -errno. */
static int
check_fd (const struct notify_call *call, uint64_t fd_arg, dev_t image)
{
  char name[32];
  cleanup_fd int fd = -1;
  struct stat st;

  if (fd_arg > INT_MAX)
    return -EBADF;
  snprintf (name, sizeof name, "fd/%d", (int) fd_arg);
  fd = openat (call->pid_dir, name, O_PATH | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0)
    return -EBADF;
  return st.st_dev == image ? 0 : -EPERM;
}

static enum notify_verdict
answer (struct seccomp_notif_resp *resp, int error)
{
  resp->val = error ? -1 : 0;
  resp->error = error;
  return NOTIFY_ANSWERED;
}

/* A refusal the box's admin should be able to read about: its reason in shim.log. */
static enum notify_verdict
refuse (const struct notify_rule *rule, const struct notify_call *call, uint64_t cmd, int error, const char *why,
        struct seccomp_notif_resp *resp)
{
  dprintf (2, "nsbox-notify: %s (cmd 0x%llx) of box pid %d refused: %s\n", rule->handler, (unsigned long long) cmd,
           (int) call->req->pid, why);
  return answer (resp, error);
}

static long
host_quotactl (const char *device, unsigned sub, unsigned type, uint32_t id, void *addr)
{
  long r = syscall (SYS_quotactl, QCMD (sub, type), device, id, addr);
  return r < 0 ? -errno : r;
}

/* Q_GETNEXTQUOTA: the next id on disk the caller can name (disk ids outside its maps are
 * skipped), its quota written with the caller's id. */
static int
get_next (const char *device, unsigned type, uint32_t disk, const struct id_map *disk_map, const struct id_map *caller_map,
          struct if_nextdqblk *next)
{
  for (int tries = 0; tries < NEXT_TRIES_MAX; tries++)
    {
      uint32_t host, inside;
      long r = host_quotactl (device, Q_GETNEXTQUOTA, type, disk, next);

      if (r < 0)
        return (int) r;
      host = next->dqb_id;
      if ((disk_map->n == 0 || map_out (disk_map, next->dqb_id, &host)) && map_in (caller_map, host, &inside))
        {
          next->dqb_id = inside;
          return 0;
        }
      if (next->dqb_id == UINT32_MAX)
        break;
      disk = next->dqb_id + 1;
    }
  return -ENOENT;
}

enum notify_verdict
notify_quotactl_handle (const struct notify_rule *rule, const struct notify_call *call, struct seccomp_notif_resp *resp)
{
  const bool by_fd = rule->syscall_nr == SYS_quotactl_fd;
  const __u64 *args = call->req->data.args;
  const uint64_t cmd = args[by_fd ? 1 : 0];
  const unsigned sub = (unsigned) ((uint32_t) cmd >> SUBCMDSHIFT), type = (unsigned) (cmd & SUBCMDMASK);
  const uint32_t id = (uint32_t) args[2];
  const uint64_t addr = args[3];
  const char *reason = notify_param (rule, "reason"), *device = notify_param (rule, "device");
  const char *disk_uids = notify_param (rule, "disk-uid-map"), *disk_gids = notify_param (rule, "disk-gid-map");
  static char special[PATH_MAX];
  struct id_map disk_map = { .n = 0 };
  struct caller c;
  struct stat dev_st;
  uint32_t host = 0, disk = 0;
  bool needs_admin;
  int rc;
  long r;

  if (reason)
    return refuse (rule, call, cmd, -EOPNOTSUPP, reason, resp);
  switch (sub)
    {
    case Q_SYNC:
    case Q_GETFMT:
    case Q_GETINFO:
      needs_admin = false;
      break;
    case Q_GETQUOTA: /* unless the caller's own, below */
    case Q_SETQUOTA:
    case Q_SETINFO:
    case Q_GETNEXTQUOTA:
      needs_admin = true;
      break;
    case Q_QUOTAON:
    case Q_QUOTAOFF:
      return refuse (rule, call, cmd, -EPERM, "the box's disk image keeps the quota accounting the host turned on", resp);
    default:
      if ((sub >> 8) == 'X')
        return refuse (rule, call, cmd, -EPERM, "XFS quota commands are not served in a box (its image is ext4)", resp);
      return answer (resp, -EINVAL);
    }
  /* The kernel's order: a bad type, then the device, then the rights. Project ids have no
   * map in a box's user namespace: EINVAL, as the kernel says. */
  if (type >= MAXQUOTAS || type == PRJQUOTA)
    return answer (resp, -EINVAL);
  if (stat (device, &dev_st) < 0 || !S_ISBLK (dev_st.st_mode))
    return refuse (rule, call, cmd, -EOPNOTSUPP, "the box's disk image is not attached", resp);

  if (by_fd)
    rc = check_fd (call, args[0], dev_st.st_rdev);
  else if (args[1] == 0)
    rc = sub == Q_SYNC ? 0 : -ENODEV; /* Q_SYNC of every filesystem: the box's is its image */
  else if ((rc = read_special (call, args[1], special, sizeof special)) == 0)
    rc = check_special (call, special, dev_st.st_rdev);
  if (rc == -EPERM)
    return refuse (rule, call, cmd, rc, "the fd is not on the box's own disk image", resp);
  if (rc < 0)
    return answer (resp, rc);

  if (!read_caller (call, &c))
    return answer (resp, -ESRCH);
  if (sub == Q_GETQUOTA || sub == Q_SETQUOTA || sub == Q_GETNEXTQUOTA)
    {
      const struct id_map *caller_map = type == USRQUOTA ? &c.uid_map : &c.gid_map;
      const char *disk_text = type == USRQUOTA ? disk_uids : disk_gids;

      if (disk_text && !parse_map (disk_text, &disk_map))
        return answer (resp, -EINVAL);
      if (!map_out (caller_map, id, &host))
        return answer (resp, -EINVAL);
      disk = host;
      if (disk_text && !map_in (&disk_map, host, &disk))
        return answer (resp, -EINVAL);
      if (sub == Q_GETQUOTA && (type == USRQUOTA ? c.euid == host : in_groups (&c, host)))
        needs_admin = false;
    }
  if (needs_admin && !c.admin)
    return answer (resp, -EPERM);

  switch (sub)
    {
    case Q_SYNC:
      return answer (resp, (int) host_quotactl (device, Q_SYNC, type, 0, NULL));
    case Q_GETFMT:
      {
        uint32_t fmt;
        if ((r = host_quotactl (device, Q_GETFMT, type, 0, &fmt)) < 0)
          return answer (resp, (int) r);
        return answer (resp, pwrite (call->mem_fd, &fmt, sizeof fmt, (off_t) addr) == sizeof fmt ? 0 : -EFAULT);
      }
    case Q_GETINFO:
      {
        struct if_dqinfo info;
        if ((r = host_quotactl (device, Q_GETINFO, type, 0, &info)) < 0)
          return answer (resp, (int) r);
        return answer (resp, pwrite (call->mem_fd, &info, sizeof info, (off_t) addr) == sizeof info ? 0 : -EFAULT);
      }
    case Q_SETINFO:
      {
        struct if_dqinfo info;
        if (pread (call->mem_fd, &info, sizeof info, (off_t) addr) != sizeof info)
          return answer (resp, -EFAULT);
        return answer (resp, (int) host_quotactl (device, Q_SETINFO, type, 0, &info));
      }
    case Q_GETQUOTA:
      {
        struct if_dqblk dq;
        if ((r = host_quotactl (device, Q_GETQUOTA, type, disk, &dq)) < 0)
          return answer (resp, (int) r);
        return answer (resp, pwrite (call->mem_fd, &dq, sizeof dq, (off_t) addr) == sizeof dq ? 0 : -EFAULT);
      }
    case Q_SETQUOTA:
      {
        struct if_dqblk dq;
        if (pread (call->mem_fd, &dq, sizeof dq, (off_t) addr) != sizeof dq)
          return answer (resp, -EFAULT);
        return answer (resp, (int) host_quotactl (device, Q_SETQUOTA, type, disk, &dq));
      }
    case Q_GETNEXTQUOTA:
      {
        struct if_nextdqblk next;
        const struct id_map *caller_map = type == USRQUOTA ? &c.uid_map : &c.gid_map;
        if ((rc = get_next (device, type, disk, &disk_map, caller_map, &next)) < 0)
          return answer (resp, rc);
        return answer (resp, pwrite (call->mem_fd, &next, sizeof next, (off_t) addr) == sizeof next ? 0 : -EFAULT);
      }
    }
  return answer (resp, -EINVAL);
}
