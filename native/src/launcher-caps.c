/* groups, user and caps: the identity of the box's process, set in one fixed order:
 *   1. drop the bounding set (needs CAP_SETPCAP, so before anything is lowered),
 *   2. PR_SET_KEEPCAPS so that setresuid to a non-zero uid keeps the permitted set,
 *   3. setgroups, setresgid, setresuid,
 *   4. capset of effective/permitted/inheritable (restores effective after setuid),
 *   5. raise the ambient set (needs each cap in permitted and inheritable).
 * Raw syscalls rather than libcap: the launcher only needs these few calls. */
#include "launcher.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static const char *const cap_names[] = {
  "CHOWN",          "DAC_OVERRIDE",    "DAC_READ_SEARCH",    "FOWNER",
  "FSETID",         "KILL",            "SETGID",             "SETUID",
  "SETPCAP",        "LINUX_IMMUTABLE", "NET_BIND_SERVICE",   "NET_BROADCAST",
  "NET_ADMIN",      "NET_RAW",         "IPC_LOCK",           "IPC_OWNER",
  "SYS_MODULE",     "SYS_RAWIO",       "SYS_CHROOT",         "SYS_PTRACE",
  "SYS_PACCT",      "SYS_ADMIN",       "SYS_BOOT",           "SYS_NICE",
  "SYS_RESOURCE",   "SYS_TIME",        "SYS_TTY_CONFIG",     "MKNOD",
  "LEASE",          "AUDIT_WRITE",     "AUDIT_CONTROL",      "SETFCAP",
  "MAC_OVERRIDE",   "MAC_ADMIN",       "SYSLOG",             "WAKE_ALARM",
  "BLOCK_SUSPEND",  "AUDIT_READ",      "PERFMON",            "BPF",
  "CHECKPOINT_RESTORE",
};

static const char *const set_names[] = { "bounding", "effective", "permitted", "inheritable",
                                         "ambient" };

static int
cap_from_name (const char *name)
{
  if (strncasecmp (name, "CAP_", 4) == 0)
    name += 4;
  for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
    if (strcasecmp (cap_names[i], name) == 0)
      return (int) i;
  return -1;
}

/* The highest capability this kernel knows, probed without /proc (which the box may not
 * have mounted at this point). */
static int
last_cap (void)
{
  int cap = 0;
  while (cap < 63 && prctl (PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
    cap++;
  return cap;
}

int
nsbox_caps_parse (const struct nsbox_program *prog, struct nsbox_caps *caps,
                  struct nsbox_error *err)
{
  memset (caps, 0, sizeof *caps);
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      int set = -1;

      if (strcmp (op->name, "caps") != 0)
        continue;
      for (int s = 0; s < 5; s++)
        if (strcmp (op->args[0], set_names[s]) == 0)
          set = s;
      if (set < 0)
        {
          err->step = "caps";
          return nsbox_fail (err, EINVAL, "unknown capability set '%s'", op->args[0]);
        }
      caps->given = true;
      for (size_t a = 1; a < op->argc; a++)
        {
          int cap = cap_from_name (op->args[a]);
          if (cap < 0)
            {
              err->step = "caps";
              return nsbox_fail (err, EINVAL, "unknown capability '%s'", op->args[a]);
            }
          caps->sets[set] |= 1ULL << cap;
        }
    }
  return 0;
}

static int
parse_id (const char *text, unsigned *out)
{
  long long value;
  if (nsbox_parse_long (text, 0, UINT32_MAX - 1, &value) < 0)
    return -1;
  *out = (unsigned) value;
  return 0;
}

static int
set_groups (const struct nsbox_op *op, struct nsbox_error *err)
{
  cleanup_free gid_t *gids = calloc (op->argc ? op->argc : 1, sizeof *gids);

  if (gids == NULL)
    return nsbox_fail (err, ENOMEM, "setgroups");
  for (size_t i = 0; i < op->argc; i++)
    {
      unsigned gid;
      if (parse_id (op->args[i], &gid) < 0)
        return nsbox_fail (err, EINVAL, "bad gid '%s'", op->args[i]);
      gids[i] = gid;
    }
  if (setgroups (op->argc, gids) < 0)
    return nsbox_fail (err, errno, "setgroups");
  return nsbox_undumpable (err);
}

static int
set_user (const struct nsbox_op *op, struct nsbox_error *err)
{
  unsigned uid, gid;

  if (parse_id (op->args[0], &uid) < 0 || parse_id (op->args[1], &gid) < 0)
    return nsbox_fail (err, EINVAL, "bad uid/gid '%s' '%s'", op->args[0], op->args[1]);
  if (setresgid (gid, gid, gid) < 0)
    return nsbox_fail (err, errno, "setresgid %u", gid);
  if (setresuid (uid, uid, uid) < 0)
    return nsbox_fail (err, errno, "setresuid %u", uid);
  return nsbox_undumpable (err);
}

static int
drop_bounding (uint64_t keep, int last, struct nsbox_error *err)
{
  for (int cap = 0; cap <= last; cap++)
    {
      if (keep & (1ULL << cap))
        continue;
      if (prctl (PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        return nsbox_fail (err, errno, "drop CAP_%s from the bounding set", cap_names[cap]);
    }
  return 0;
}

static int
set_caps (const uint64_t *sets, uint64_t keep, struct nsbox_error *err)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[2];

  for (int i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) ((sets[NSBOX_CAP_EFFECTIVE] | keep) >> (32 * i));
      data[i].permitted = (uint32_t) ((sets[NSBOX_CAP_PERMITTED] | keep) >> (32 * i));
      data[i].inheritable = (uint32_t) (sets[NSBOX_CAP_INHERITABLE] >> (32 * i));
    }
  if (syscall (SYS_capset, &header, data) < 0)
    return nsbox_fail (err, errno, "capset");
  if (nsbox_undumpable (err) < 0)
    return -1;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return nsbox_fail (err, errno, "clear the ambient set");
  /* The kernel keeps an ambient capability only while it is both permitted and
   * inheritable; one the spec asks for without those is skipped, as crun and runc do,
   * rather than failing the box (specs from `crun spec` list ambient caps that way). */
  uint64_t raisable = sets[NSBOX_CAP_AMBIENT] & sets[NSBOX_CAP_PERMITTED] & sets[NSBOX_CAP_INHERITABLE];
  for (int cap = 0; cap < 64; cap++)
    if ((raisable & (1ULL << cap)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return nsbox_fail (err, errno, "raise CAP_%s in the ambient set", cap_names[cap]);
  return 0;
}

static int
failed_at (struct nsbox_error *err, const char *step)
{
  nsbox_error_step (err, step);
  return -1;
}

/* Adds `keep` to the effective set (it is in the permitted set: keep caps across the uid
 * change), when no `caps` op says what the sets are. */
static int
raise_kept (uint64_t keep, struct nsbox_error *err)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[2];

  if (syscall (SYS_capget, &header, data) < 0)
    return nsbox_fail (err, errno, "capget");
  for (int i = 0; i < 2; i++)
    data[i].effective |= (uint32_t) (keep >> (32 * i)) & data[i].permitted;
  if (syscall (SYS_capset, &header, data) < 0)
    return nsbox_fail (err, errno, "capset");
  return nsbox_undumpable (err);
}

int
nsbox_apply_identity (const struct nsbox_program *prog, const struct nsbox_caps *caps,
                      uint64_t keep, struct nsbox_error *err)
{
  const struct nsbox_op *user = nsbox_program_find (prog, "user");
  const struct nsbox_op *groups = nsbox_program_find (prog, "groups");
  uint64_t sets[5];
  int last = last_cap ();

  /* Capabilities this kernel does not have are left out rather than refused: a runtime
   * written for a newer kernel asks for them. */
  for (int s = 0; s < 5; s++)
    sets[s] = caps->sets[s] & (last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1);

  if (caps->given && drop_bounding (sets[NSBOX_CAP_BOUNDING], last, err) < 0)
    return failed_at (err, "caps");
  if (caps->given || keep)
    {
      if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        {
          nsbox_fail (err, errno, "PR_SET_KEEPCAPS");
          return failed_at (err, "caps");
        }
    }
  if (groups && set_groups (groups, err) < 0)
    return failed_at (err, "groups");
  if (user && set_user (user, err) < 0)
    return failed_at (err, "user");
  if (caps->given || keep)
    {
      if (caps->given && set_caps (sets, keep, err) < 0)
        return failed_at (err, "caps");
      if (!caps->given && raise_kept (keep, err) < 0)
        return failed_at (err, "caps");
      /* Back to the default, so that a later setuid in the box drops caps as usual. */
      if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        {
          nsbox_fail (err, errno, "PR_SET_KEEPCAPS");
          return failed_at (err, "caps");
        }
    }
  return 0;
}
