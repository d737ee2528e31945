/* Attributes of the box's process that it keeps across exec: scheduling (`sched`, with
 * sched_setattr), I/O priority (`ioprio`), NUMA memory policy (`mempolicy`), execution domain
 * (`personality`), cpus (`affinity`), file mode mask (`umask`), and HOME from the box's
 * /etc/passwd (`home`).
 * The first four are set before the identity drops capabilities (an RT policy or an RT
 * I/O class needs CAP_SYS_NICE / CAP_SYS_ADMIN). Names are those of the OCI spec and the
 * kernel headers; the runtime checks the combinations, the kernel has the last word. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct name_value
{
  const char *name;
  unsigned long value;
};

static int
lookup (const struct name_value *table, const char *name, unsigned long *value)
{
  for (; table->name; table++)
    if (strcmp (table->name, name) == 0)
      {
        *value = table->value;
        return 0;
      }
  return -1;
}

/* A comma-separated list of names, OR'ed ("" is 0). */
static int
lookup_flags (const struct name_value *table, const char *text, unsigned long *value,
              const char *what, struct nsbox_error *err)
{
  cleanup_free char *copy = strdup (text);
  char *save = NULL;

  *value = 0;
  if (copy == NULL)
    return nsbox_fail (err, ENOMEM, "parse %s", what);
  for (char *name = strtok_r (copy, ",", &save); name; name = strtok_r (NULL, ",", &save))
    {
      unsigned long flag;
      if (lookup (table, name, &flag) < 0)
        return nsbox_fail (err, EINVAL, "unknown %s '%s'", what, name);
      *value |= flag;
    }
  return 0;
}

static int
number (const char *text, long long min, long long max, long long *out, const char *what,
        struct nsbox_error *err)
{
  if (nsbox_parse_long (text, min, max, out) < 0)
    return nsbox_fail (err, EINVAL, "bad %s '%s'", what, text);
  return 0;
}

/* `sched POLICY NICE PRIORITY FLAGS RUNTIME DEADLINE PERIOD` */
static int
op_sched (const struct nsbox_op *op, struct nsbox_error *err)
{
  static const struct name_value policies[] = {
    { "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 },
    { "SCHED_BATCH", 3 }, { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 },
    { NULL, 0 },
  };
  static const struct name_value flags[] = {
    { "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 },
    { "SCHED_FLAG_DL_OVERRUN", 0x04 },    { "SCHED_FLAG_KEEP_POLICY", 0x08 },
    { "SCHED_FLAG_KEEP_PARAMS", 0x10 },   { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
    { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 }, { NULL, 0 },
  };
  /* The kernel's struct sched_attr (include/uapi/linux/sched/types.h), version 0. */
  struct
  {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } attr = { .size = sizeof attr };
  unsigned long policy, flag_bits;
  long long nice, priority, runtime, deadline, period;

  if (lookup (policies, op->args[0], &policy) < 0)
    return nsbox_fail (err, EINVAL, "unknown scheduling policy '%s'", op->args[0]);
  if (number (op->args[1], -20, 19, &nice, "nice value", err) < 0
      || number (op->args[2], 0, 99, &priority, "priority", err) < 0
      || lookup_flags (flags, op->args[3], &flag_bits, "scheduler flag", err) < 0
      || number (op->args[4], 0, INT64_MAX, &runtime, "runtime", err) < 0
      || number (op->args[5], 0, INT64_MAX, &deadline, "deadline", err) < 0
      || number (op->args[6], 0, INT64_MAX, &period, "period", err) < 0)
    return -1;
  attr.policy = (uint32_t) policy;
  attr.flags = flag_bits;
  attr.nice = (int32_t) nice;
  attr.priority = (uint32_t) priority;
  attr.runtime = (uint64_t) runtime;
  attr.deadline = (uint64_t) deadline;
  attr.period = (uint64_t) period;
  if (syscall (SYS_sched_setattr, 0, &attr, 0) < 0)
    return nsbox_fail (err, errno, "sched_setattr %s", op->args[0]);
  return 0;
}

/* `ioprio CLASS LEVEL` */
static int
op_ioprio (const struct nsbox_op *op, struct nsbox_error *err)
{
  static const struct name_value classes[] = {
    { "IOPRIO_CLASS_RT", 1 }, { "IOPRIO_CLASS_BE", 2 }, { "IOPRIO_CLASS_IDLE", 3 }, { NULL, 0 },
  };
  unsigned long class;
  long long level;

  if (lookup (classes, op->args[0], &class) < 0)
    return nsbox_fail (err, EINVAL, "unknown I/O priority class '%s'", op->args[0]);
  if (number (op->args[1], 0, 7, &level, "I/O priority", err) < 0)
    return -1;
  /* IOPRIO_WHO_PROCESS, this process; IOPRIO_PRIO_VALUE(class, level). */
  if (syscall (SYS_ioprio_set, 1, 0, (int) ((class << 13) | (unsigned long) level)) < 0)
    return nsbox_fail (err, errno, "ioprio_set %s %lld", op->args[0], level);
  return 0;
}

/* "0-3,7" into a bitmask of nodes. */
static int
parse_nodes (const char *text, unsigned long *mask, size_t words, struct nsbox_error *err)
{
  const size_t bits = words * 64;
  const char *p = text;

  memset (mask, 0, words * sizeof *mask);
  while (*p)
    {
      char *end;
      unsigned long first = strtoul (p, &end, 10), last = first;

      if (end == p)
        return nsbox_fail (err, EINVAL, "bad node list '%s'", text);
      if (*end == '-')
        {
          p = end + 1;
          last = strtoul (p, &end, 10);
          if (end == p || last < first)
            return nsbox_fail (err, EINVAL, "bad node list '%s'", text);
        }
      if (last >= bits)
        return nsbox_fail (err, EINVAL, "node %lu is out of range in '%s'", last, text);
      for (unsigned long node = first; node <= last; node++)
        mask[node / 64] |= 1UL << (node % 64);
      if (*end == ',')
        end++;
      else if (*end != '\0')
        return nsbox_fail (err, EINVAL, "bad node list '%s'", text);
      p = end;
    }
  return 0;
}

/* `mempolicy MODE FLAGS NODES` */
static int
op_mempolicy (const struct nsbox_op *op, struct nsbox_error *err)
{
  static const struct name_value modes[] = {
    { "MPOL_DEFAULT", 0 },        { "MPOL_PREFERRED", 1 },
    { "MPOL_BIND", 2 },           { "MPOL_INTERLEAVE", 3 },
    { "MPOL_LOCAL", 4 },          { "MPOL_PREFERRED_MANY", 5 },
    { "MPOL_WEIGHTED_INTERLEAVE", 6 }, { NULL, 0 },
  };
  static const struct name_value flags[] = {
    { "MPOL_F_NUMA_BALANCING", 1 << 13 }, { "MPOL_F_RELATIVE_NODES", 1 << 14 },
    { "MPOL_F_STATIC_NODES", 1 << 15 },   { NULL, 0 },
  };
  unsigned long mode, flag_bits, nodes[16];

  if (lookup (modes, op->args[0], &mode) < 0)
    return nsbox_fail (err, EINVAL, "unknown memory policy mode '%s'", op->args[0]);
  if (lookup_flags (flags, op->args[1], &flag_bits, "memory policy flag", err) < 0)
    return -1;
  /* MPOL_DEFAULT and MPOL_LOCAL take no node mask. */
  if (mode == 0 || mode == 4)
    {
      if (syscall (SYS_set_mempolicy, (int) mode, NULL, 0UL) < 0)
        return nsbox_fail (err, errno, "set_mempolicy %s", op->args[0]);
      return 0;
    }
  if (parse_nodes (op->args[2], nodes, 16, err) < 0)
    return -1;
  if (syscall (SYS_set_mempolicy, (int) (mode | flag_bits), nodes, 16UL * 64 + 1) < 0)
    return nsbox_fail (err, errno, "set_mempolicy %s nodes %s", op->args[0], op->args[2]);
  return 0;
}

/* `personality DOMAIN` */
static int
op_personality (const struct nsbox_op *op, struct nsbox_error *err)
{
  static const struct name_value domains[] = {
    { "LINUX", PER_LINUX }, { "LINUX32", PER_LINUX32 }, { NULL, 0 },
  };
  unsigned long domain;

  if (lookup (domains, op->args[0], &domain) < 0)
    return nsbox_fail (err, EINVAL, "unknown execution domain '%s'", op->args[0]);
  if (personality (domain) < 0)
    return nsbox_fail (err, errno, "personality %s", op->args[0]);
  return 0;
}

/* `affinity CPUS` (a list such as 0-3,7): sched_setaffinity. */
static int
op_affinity (const struct nsbox_op *op, struct nsbox_error *err)
{
  unsigned long mask[16];
  cpu_set_t set;

  /* The same list syntax as NUMA nodes. */
  if (parse_nodes (op->args[0], mask, 16, err) < 0)
    return -1;
  CPU_ZERO (&set);
  for (int cpu = 0; cpu < CPU_SETSIZE && cpu < 16 * 64; cpu++)
    if (mask[cpu / 64] & (1UL << (cpu % 64)))
      CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) < 0)
    return nsbox_fail (err, errno, "sched_setaffinity %s", op->args[0]);
  return 0;
}

int
nsbox_process_attributes (const struct nsbox_program *prog, struct nsbox_error *err)
{
  static const struct
  {
    const char *name;
    int (*apply) (const struct nsbox_op *, struct nsbox_error *);
  } ops[] = {
    { "sched", op_sched },
    { "ioprio", op_ioprio },
    { "mempolicy", op_mempolicy },
    { "personality", op_personality },
    { "affinity", op_affinity },
  };

  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    {
      const struct nsbox_op *op = nsbox_program_find (prog, ops[i].name);
      if (op && ops[i].apply (op, err) < 0)
        {
          nsbox_error_step (err, ops[i].name);
          return -1;
        }
    }
  return 0;
}

int
nsbox_process_umask (const struct nsbox_program *prog, struct nsbox_error *err)
{
  const struct nsbox_op *op = nsbox_program_find (prog, "umask");
  char *end;
  unsigned long mask = 022;

  if (op)
    {
      mask = strtoul (op->args[0], &end, 8);
      if (end == op->args[0] || *end != '\0' || mask > 0777)
        {
          err->step = "umask";
          return nsbox_fail (err, EINVAL, "bad umask '%s'", op->args[0]);
        }
    }
  umask ((mode_t) mask);
  return 0;
}

/* The home directory of uid in the box's /etc/passwd (resolved inside the root, read as
 * the box's root), or "/" when the file or the entry is missing, as crun does. */
int
nsbox_process_home (uid_t uid, char *home, size_t size, struct nsbox_error *err)
{
  cleanup_fd int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_fd int fd = -1;
  cleanup_free char *text = NULL;
  size_t len;
  struct stat st;

  snprintf (home, size, "/");
  if (root < 0)
    return nsbox_fail (err, errno, "open '/'");
  fd = nsbox_open_in_root (root, "/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return 0;
  if (nsbox_read_all (fd, 16 << 20, &text, &len, err) < 0)
    return -1;
  for (char *line = text, *next; line && *line; line = next)
    {
      char *fields[7] = { 0 };
      char *end;
      unsigned long id;
      int n = 0;

      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      for (char *f = line; f && n < 7; n++)
        {
          fields[n] = f;
          f = strchr (f, ':');
          if (f)
            *f++ = '\0';
        }
      if (n < 6 || fields[2][0] == '\0')
        continue;
      id = strtoul (fields[2], &end, 10);
      if (*end == '\0' && id == uid && fields[5][0] != '\0')
        {
          snprintf (home, size, "%s", fields[5]);
          return 0;
        }
    }
  return 0;
}
