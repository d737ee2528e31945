#include "program.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define BOTH (NSBOX_IN_CREATE | NSBOX_IN_JOIN)
#define CREATE NSBOX_IN_CREATE
#define JOIN NSBOX_IN_JOIN
#define ANY UINT_MAX

/* Every op of PROTOCOL.md §1 with its phase and arity. */
static const struct nsbox_op_spec op_specs[] = {
  { "mode", NSBOX_PHASE_HOST, 1, 1, BOTH, 0 },
  { "cgroup.procs", NSBOX_PHASE_HOST, 1, 1, BOTH, 0 },
  { "cgroup.into", NSBOX_PHASE_HOST, 1, 1, CREATE, 0 },
  { "namespaces", NSBOX_PHASE_HOST, 0, ANY, BOTH, 0 },
  { "join.ns", NSBOX_PHASE_HOST, 2, 2, BOTH, 0 },
  { "join.pid", NSBOX_PHASE_HOST, 1, 1, JOIN, 0 },
  { "timens.offset", NSBOX_PHASE_HOST, 3, 3, CREATE, 0 },
  { "tty", NSBOX_PHASE_HOST, 0, 0, JOIN, 0 },
  { "preserve_fds", NSBOX_PHASE_HOST, 1, 1, BOTH, 0 },
  { "hold", NSBOX_PHASE_HOST, 1, 1, CREATE, 0 },
  { "seccomp.listener", NSBOX_PHASE_HOST, 2, 3, BOTH, 0 },
  { "seccomp.cache", NSBOX_PHASE_HOST, 1, 1, BOTH, 0 },
  { "hook", NSBOX_PHASE_HOOK, 6, ANY, CREATE, 0 },
  { "bpf.devices", NSBOX_PHASE_HOST, 1, ANY, CREATE, 0 },
  { "bpf.inet", NSBOX_PHASE_HOST, 1, ANY, CREATE, 0 },
  { "uidmap", NSBOX_PHASE_PARENT, 1, 1, CREATE, 0 },
  { "gidmap", NSBOX_PHASE_PARENT, 1, 1, CREATE, 0 },
  { "setgroups", NSBOX_PHASE_PARENT, 1, 1, CREATE, 0 },
  { "rlimit", NSBOX_PHASE_PARENT, 3, 3, BOTH, 0 },
  { "oom_score_adj", NSBOX_PHASE_PARENT, 1, 1, BOTH, 0 },
  { "tree", NSBOX_PHASE_PARENT, 2, 4, CREATE, 0 },
  { "rootfs", NSBOX_PHASE_CHILD, 1, 2, CREATE, NSBOX_BEFORE_PIVOT },
  { "propagation", NSBOX_PHASE_CHILD, 1, 1, CREATE, 0 },
  { "mount", NSBOX_PHASE_CHILD, 5, 5, CREATE, NSBOX_NEEDS_ROOTFS },
  { "mkdir", NSBOX_PHASE_CHILD, 2, 2, CREATE, NSBOX_NEEDS_ROOTFS },
  { "symlink", NSBOX_PHASE_CHILD, 2, 2, CREATE, NSBOX_NEEDS_ROOTFS },
  { "dev.bind", NSBOX_PHASE_CHILD, 2, 2, CREATE, NSBOX_NEEDS_ROOTFS | NSBOX_BEFORE_PIVOT },
  { "console", NSBOX_PHASE_CHILD, 1, 1, CREATE, NSBOX_NEEDS_ROOTFS | NSBOX_BEFORE_PIVOT },
  { "mknod", NSBOX_PHASE_CHILD, 5, 7, CREATE, NSBOX_NEEDS_ROOTFS },
  { "loopback.up", NSBOX_PHASE_CHILD, 0, 0, CREATE, 0 },
  { "pivot_root", NSBOX_PHASE_CHILD, 0, 0, CREATE, NSBOX_NEEDS_ROOTFS | NSBOX_BEFORE_PIVOT },
  { "mask", NSBOX_PHASE_CHILD, 1, 1, CREATE, NSBOX_NEEDS_PIVOT },
  { "readonly", NSBOX_PHASE_CHILD, 1, 2, CREATE, NSBOX_NEEDS_PIVOT },
  { "sysctl", NSBOX_PHASE_CHILD, 2, 2, CREATE, NSBOX_NEEDS_PIVOT },
  { "hostname", NSBOX_PHASE_CHILD, 1, 1, CREATE, 0 },
  { "domainname", NSBOX_PHASE_CHILD, 1, 1, CREATE, 0 },
  { "user", NSBOX_PHASE_FINAL, 2, 2, BOTH, 0 },
  { "groups", NSBOX_PHASE_FINAL, 0, ANY, BOTH, 0 },
  { "caps", NSBOX_PHASE_FINAL, 1, ANY, BOTH, 0 },
  { "no_new_privs", NSBOX_PHASE_FINAL, 0, 0, BOTH, 0 },
  { "umask", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "sched", NSBOX_PHASE_FINAL, 7, 7, BOTH, 0 },
  { "ioprio", NSBOX_PHASE_FINAL, 2, 2, BOTH, 0 },
  { "mempolicy", NSBOX_PHASE_FINAL, 3, 3, BOTH, 0 },
  { "personality", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "affinity", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "home", NSBOX_PHASE_FINAL, 0, 0, BOTH, 0 },
  { "seccomp.flag", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "seccomp.default", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "seccomp.arch", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "seccomp.rule", NSBOX_PHASE_FINAL, 2, ANY, BOTH, 0 },
  { "seccomp.load", NSBOX_PHASE_FINAL, 0, 0, BOTH, 0 },
  { "cwd", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "env", NSBOX_PHASE_FINAL, 1, 1, BOTH, 0 },
  { "exec", NSBOX_PHASE_FINAL, 1, ANY, BOTH, 0 },
};

const struct nsbox_op_spec *
nsbox_op_lookup (const char *name)
{
  for (size_t i = 0; i < sizeof op_specs / sizeof op_specs[0]; i++)
    if (strcmp (op_specs[i].name, name) == 0)
      return &op_specs[i];
  return NULL;
}

/* A cursor over the encoded bytes. */
struct reader
{
  const unsigned char *p;
  size_t left;
};

static int
read_u32 (struct reader *r, uint32_t *out)
{
  if (r->left < 4)
    return -1;
  *out = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16
         | (uint32_t) r->p[3] << 24;
  r->p += 4;
  r->left -= 4;
  return 0;
}

static int
fail (struct nsbox_error *err, int errnum, const char *fmt, const char *arg)
{
  nsbox_fail (err, 0, fmt, arg);
  err->errnum = errnum;
  err->step = "read-program";
  return -1;
}

int
nsbox_program_decode (const void *buf, size_t len, struct nsbox_program *prog,
                      struct nsbox_error *err)
{
  struct reader r = { buf, len };
  uint32_t version, count;
  char *out;

  memset (prog, 0, sizeof *prog);
  if (len < 4 || memcmp (buf, NSBOX_PROGRAM_MAGIC, 4) != 0)
    return fail (err, EPROTO, "bad magic (not an nsbox program)%s", "");
  r.p += 4;
  r.left -= 4;
  if (read_u32 (&r, &version) < 0 || read_u32 (&r, &count) < 0)
    return fail (err, EINVAL, "truncated header%s", "");
  if (version != NSBOX_PROGRAM_VERSION)
    return fail (err, EPROTO, "unsupported program version%s", "");
  if (count > NSBOX_PROGRAM_MAX_OPS)
    return fail (err, EINVAL, "too many ops%s", "");

  /* The strings need at most the remaining bytes plus one NUL each: one block for all. */
  prog->ops = calloc (count ? count : 1, sizeof *prog->ops);
  prog->storage = malloc (r.left + 1);
  if (prog->ops == NULL || prog->storage == NULL)
    {
      nsbox_program_free (prog);
      return fail (err, ENOMEM, "allocate the program%s", "");
    }
  out = prog->storage;

  for (uint32_t i = 0; i < count; i++)
    {
      struct nsbox_op *op = &prog->ops[i];
      uint32_t argc;

      if (read_u32 (&r, &argc) < 0 || argc == 0 || argc > NSBOX_PROGRAM_MAX_ARGS
          || argc > r.left / 4)
        {
          nsbox_program_free (prog);
          return fail (err, EINVAL, "truncated or empty op%s", "");
        }
      /* args[-1] is the name: one array holds both, NULL-terminated for execve. */
      op->args = calloc (argc + 1, sizeof (char *));
      if (op->args == NULL)
        {
          nsbox_program_free (prog);
          return fail (err, ENOMEM, "allocate the program%s", "");
        }
      prog->n_ops = i + 1;
      for (uint32_t a = 0; a < argc; a++)
        {
          uint32_t slen;
          if (read_u32 (&r, &slen) < 0 || slen > r.left)
            {
              nsbox_program_free (prog);
              return fail (err, EINVAL, "truncated string%s", "");
            }
          /* Paths, names and argv cannot hold a NUL: reject rather than truncate. */
          if (memchr (r.p, '\0', slen) != NULL)
            {
              nsbox_program_free (prog);
              return fail (err, EINVAL, "NUL byte in a string%s", "");
            }
          memcpy (out, r.p, slen);
          out[slen] = '\0';
          op->args[a] = out;
          out += slen + 1;
          r.p += slen;
          r.left -= slen;
        }
      op->name = op->args[0];
      op->args++;
      op->argc = argc - 1;
      op->spec = nsbox_op_lookup (op->name);
    }
  if (r.left != 0)
    {
      nsbox_program_free (prog);
      return fail (err, EINVAL, "trailing bytes after the last op%s", "");
    }
  prog->n_ops = count;
  return 0;
}

unsigned
nsbox_program_mode (const struct nsbox_program *prog)
{
  const struct nsbox_op *mode = nsbox_program_find (prog, "mode");
  if (mode && strcmp (mode->args[0], "join") == 0)
    return NSBOX_IN_JOIN;
  return NSBOX_IN_CREATE;
}

const char *const nsbox_hook_kinds[] = { "prestart", "createRuntime", "createContainer",
                                         "startContainer", NULL };

/* `hook KIND TIMEOUT CWD STATE PATH ARGC ARG... ENV...` */
int
nsbox_hook_check (const struct nsbox_op *op, struct nsbox_error *err)
{
  long long timeout, argc;
  bool known = false;

  for (size_t k = 0; nsbox_hook_kinds[k]; k++)
    known = known || strcmp (op->args[0], nsbox_hook_kinds[k]) == 0;
  if (!known)
    return fail (err, EINVAL, "unknown hook kind '%s'", op->args[0]);
  if (nsbox_parse_long (op->args[1], 0, 86400, &timeout) < 0)
    return fail (err, EINVAL, "bad hook timeout '%s'", op->args[1]);
  if (op->args[4][0] != '/')
    return fail (err, EINVAL, "hook path '%s' is not absolute", op->args[4]);
  if (nsbox_parse_long (op->args[5], 0, (long long) op->argc - 6, &argc) < 0)
    return fail (err, EINVAL, "bad hook argument count '%s'", op->args[5]);
  return 0;
}

int
nsbox_program_validate (const struct nsbox_program *prog, struct nsbox_error *err)
{
  const struct nsbox_op *mode_op = nsbox_program_find (prog, "mode");
  unsigned mode;
  bool seen_rootfs = false, seen_pivot = false, seen_exec = false;

  for (size_t i = 0; i < prog->n_ops; i++)
    if (prog->ops[i].spec == NULL)
      return fail (err, EINVAL, "unknown op '%s'", prog->ops[i].name);

  if (mode_op && strcmp (mode_op->args[0], "create") != 0
      && strcmp (mode_op->args[0], "join") != 0)
    return fail (err, EINVAL, "unknown mode '%s'", mode_op->args[0]);
  mode = nsbox_program_mode (prog);

  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      const struct nsbox_op_spec *spec = op->spec;

      if (op->argc < spec->min_args || op->argc > spec->max_args)
        return fail (err, EINVAL, "wrong number of arguments for op '%s'", op->name);
      if (!(spec->modes & mode))
        return fail (err, EINVAL, "op '%s' is not allowed in this mode", op->name);
      if ((spec->order & NSBOX_NEEDS_ROOTFS) && !seen_rootfs)
        return fail (err, EINVAL, "op '%s' needs a 'rootfs' op before it", op->name);
      if ((spec->order & NSBOX_NEEDS_PIVOT) && !seen_pivot)
        return fail (err, EINVAL, "op '%s' needs a 'pivot_root' op before it", op->name);
      if ((spec->order & NSBOX_BEFORE_PIVOT) && seen_pivot)
        return fail (err, EINVAL, "op '%s' must come before 'pivot_root'", op->name);
      if (strcmp (op->name, "rootfs") == 0)
        {
          if (seen_rootfs)
            return fail (err, EINVAL, "more than one '%s' op", op->name);
          if (op->args[0][0] != '/')
            return fail (err, EINVAL, "rootfs '%s' is not an absolute path", op->args[0]);
          seen_rootfs = true;
        }
      else if (strcmp (op->name, "pivot_root") == 0)
        seen_pivot = true;
      else if (strcmp (op->name, "hook") == 0 && nsbox_hook_check (op, err) < 0)
        return -1;
      else if (strcmp (op->name, "preserve_fds") == 0)
        {
          long long n;
          if (nsbox_parse_long (op->args[0], 0, 4096, &n) < 0)
            return fail (err, EINVAL, "bad fd count '%s'", op->args[0]);
        }
      else if (strcmp (op->name, "exec") == 0)
        {
          if (seen_exec)
            return fail (err, EINVAL, "more than one '%s' op", op->name);
          seen_exec = true;
        }
    }
  if (!seen_exec)
    return fail (err, EINVAL, "no 'exec' op%s", "");
  if (mode == NSBOX_IN_JOIN && nsbox_program_find (prog, "join.pid") == NULL
      && nsbox_program_find (prog, "join.ns") == NULL)
    return fail (err, EINVAL, "join mode needs a 'join.pid' or 'join.ns' op%s", "");
  return 0;
}

int
nsbox_program_read (int fd, struct nsbox_program *prog, struct nsbox_error *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  if (nsbox_read_all (fd, NSBOX_PROGRAM_MAX_BYTES, &buf, &len, err) < 0)
    {
      err->step = "read-program";
      return -1;
    }
  if (nsbox_program_decode (buf, len, prog, err) < 0)
    return -1;
  if (nsbox_program_validate (prog, err) < 0)
    {
      nsbox_program_free (prog);
      return -1;
    }
  return 0;
}

void
nsbox_program_free (struct nsbox_program *prog)
{
  for (size_t i = 0; i < prog->n_ops; i++)
    if (prog->ops[i].args)
      free (prog->ops[i].name ? prog->ops[i].args - 1 : prog->ops[i].args);
  free (prog->ops);
  free (prog->storage);
  memset (prog, 0, sizeof *prog);
}

const struct nsbox_op *
nsbox_program_find (const struct nsbox_program *prog, const char *name)
{
  for (size_t i = prog->n_ops; i > 0; i--)
    if (strcmp (prog->ops[i - 1].name, name) == 0)
      return &prog->ops[i - 1];
  return NULL;
}
