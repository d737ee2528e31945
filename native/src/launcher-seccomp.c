/* seccomp.* ops: a libseccomp filter, built early (while memory and files are still
 * reachable) and loaded by launcher-final.c as the very last thing before execve.
 *
 * SCMP_ACT_NOTIFY rules give the filter a listener fd. `seccomp.listener PATH STATE
 * [METADATA]` connects to the agent at PATH before the launcher clones (host credentials,
 * host paths); right after the load, the only other syscall before execve sends the
 * listener with the OCI container process state (runtime-spec config-linux.md, "seccomp"),
 * as runc and crun do.
 *
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19) has no libseccomp 2.5 attribute: with
 * it, the filter libseccomp built is exported as BPF at build time and loaded with seccomp(2)
 * itself, the kernel's flags passed as they are; the listener is then seccomp(2)'s return.
 *
 * NSBOX_SECCOMP_LOG_DENIALS (nsbox's, not the kernel's) is SECCOMP_FILTER_FLAG_LOG for the
 * filter's denials only: the kernel logs per filter, by the filter whose action won, so the
 * rules that answer an errno of their own (isolation's ENOSYS for clone3, which glibc meets
 * at every thread it starts) go to a second filter loaded without the flag — allowed in the
 * first, answered there — and only the default action's errno is logged. */
#include "launcher.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* The launcher builds and loads one filter per run (two with NSBOX_SECCOMP_LOG_DENIALS): the direct load's state. */
static struct
{
  bool wanted;              /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV was asked for */
  struct sock_fprog prog;   /* the exported BPF, filled by nsbox_seccomp_build or the cache */
  int listener;             /* seccomp(2)'s return, or -1 */
  bool notify_used;         /* a `notify` rule went into the filter: it gets a listener */
  bool prepared;            /* the BPF and `flags` came from nsbox_seccomp_prepare */
  unsigned int flags;       /* the kernel's filter flags of a prepared filter */
} direct = { .listener = -1 };

/* NSBOX_SECCOMP_LOG_DENIALS: the unlogged filter of the rules that are not denials. A
 * prepared filter (`seccomp.cache`) carries it as BPF too: without it, the logged filter
 * would allow what only the unlogged one answers (clone3). */
static struct
{
  bool wanted;
  scmp_filter_ctx ctx;    /* made by the first such rule; loaded before the logged filter */
  struct sock_fprog prog; /* its BPF, when prepared (len 0: no unlogged filter) */
  unsigned int flags;     /* the kernel's flags to load that BPF with */
} quiet;

#define ACTION_IS_ERRNO(action) (((action) & 0xffff0000U) == SCMP_ACT_ERRNO (0))

/* The unlogged filter, made on first use: allows what it does not answer, same architectures. */
static scmp_filter_ctx
quiet_ctx (const struct nsbox_program *prog, scmp_filter_ctx logged, struct nsbox_error *err)
{
  uint32_t tsync = 0;

  if (quiet.ctx)
    return quiet.ctx;
  quiet.ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (quiet.ctx == NULL || seccomp_attr_set (quiet.ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
    goto fail;
  if (seccomp_attr_get (logged, SCMP_FLTATR_CTL_TSYNC, &tsync) == 0 && tsync
      && seccomp_attr_set (quiet.ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
    goto fail;
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "seccomp.arch") == 0)
      {
        int rc = seccomp_arch_add (quiet.ctx, seccomp_arch_resolve_name (prog->ops[i].args[0]));
        if (rc < 0 && rc != -EEXIST)
          goto fail;
      }
  return quiet.ctx;
fail:
  if (quiet.ctx)
    seccomp_release (quiet.ctx);
  quiet.ctx = NULL;
  nsbox_fail (err, EINVAL, "build the unlogged seccomp filter");
  return NULL;
}

static int
parse_action (const char *text, uint32_t *action)
{
  long long n;

  if (strcmp (text, "allow") == 0)
    *action = SCMP_ACT_ALLOW;
  else if (strcmp (text, "kill") == 0)
    *action = SCMP_ACT_KILL;
  else if (strcmp (text, "kill_process") == 0)
    *action = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (text, "trap") == 0)
    *action = SCMP_ACT_TRAP;
  else if (strcmp (text, "log") == 0)
    *action = SCMP_ACT_LOG;
  else if (strcmp (text, "notify") == 0)
    *action = SCMP_ACT_NOTIFY;
  else if (strncmp (text, "errno:", 6) == 0 && nsbox_parse_long (text + 6, 0, 4095, &n) == 0)
    *action = SCMP_ACT_ERRNO ((uint32_t) n);
  else if (strncmp (text, "trace:", 6) == 0 && nsbox_parse_long (text + 6, 0, 65535, &n) == 0)
    *action = SCMP_ACT_TRACE ((uint32_t) n);
  else
    return -1;
  return 0;
}

static const struct
{
  const char *name;
  enum scmp_compare op;
} compare_names[] = {
  { "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE },
  { "eq", SCMP_CMP_EQ }, { "ge", SCMP_CMP_GE }, { "gt", SCMP_CMP_GT },
  { "masked_eq", SCMP_CMP_MASKED_EQ },
};

static int
parse_u64 (const char *text, uint64_t *out)
{
  char *end;
  errno = 0;
  *out = strtoull (text, &end, 0);
  return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

/* `index:op:value[:mask]` */
static int
parse_condition (const char *text, struct scmp_arg_cmp *cmp)
{
  char buf[128], *save = NULL, *index, *op, *value, *mask;
  uint64_t idx, v, m = 0;

  if (snprintf (buf, sizeof buf, "%s", text) >= (int) sizeof buf)
    return -1;
  index = strtok_r (buf, ":", &save);
  op = strtok_r (NULL, ":", &save);
  value = strtok_r (NULL, ":", &save);
  mask = strtok_r (NULL, ":", &save);
  if (!index || !op || !value || strtok_r (NULL, ":", &save))
    return -1;
  if (parse_u64 (index, &idx) < 0 || idx > 5 || parse_u64 (value, &v) < 0
      || (mask && parse_u64 (mask, &m) < 0))
    return -1;
  for (size_t i = 0; i < sizeof compare_names / sizeof compare_names[0]; i++)
    if (strcmp (compare_names[i].name, op) == 0)
      {
        cmp->arg = (unsigned) idx;
        cmp->op = compare_names[i].op;
        /* libseccomp wants the mask first for SCMP_CMP_MASKED_EQ. */
        cmp->datum_a = cmp->op == SCMP_CMP_MASKED_EQ ? m : v;
        cmp->datum_b = cmp->op == SCMP_CMP_MASKED_EQ ? v : 0;
        return 0;
      }
  return -1;
}

static void
release_ctx (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}

static int
add_rule (const struct nsbox_program *prog, scmp_filter_ctx ctx, uint32_t default_action,
          const struct nsbox_op *op, struct nsbox_error *err)
{
  struct scmp_arg_cmp conds[6];
  size_t n_conds = op->argc - 2;
  uint32_t action;
  int syscall_nr, rc;

  if (parse_action (op->args[0], &action) < 0)
    return nsbox_fail (err, EINVAL, "unknown action '%s'", op->args[0]);
  /* A name this kernel (or libseccomp) does not know: the kernel does not have it, so
   * there is nothing to filter. */
  syscall_nr = seccomp_syscall_resolve_name (op->args[1]);
  if (syscall_nr == __NR_SCMP_ERROR)
    return 0;
  if (n_conds > 6)
    return nsbox_fail (err, E2BIG, "too many conditions for '%s'", op->args[1]);
  for (size_t i = 0; i < n_conds; i++)
    if (parse_condition (op->args[2 + i], &conds[i]) < 0)
      return nsbox_fail (err, EINVAL, "bad condition '%s'", op->args[2 + i]);
  /* libseccomp refuses a rule that repeats the default action; it is a no-op anyway. */
  if (action == default_action)
    return 0;
  if (quiet.wanted && ACTION_IS_ERRNO (action) && ACTION_IS_ERRNO (default_action))
    {
      scmp_filter_ctx other = quiet_ctx (prog, ctx, err);
      if (other == NULL)
        return -1;
      rc = seccomp_rule_add_array (other, action, syscall_nr, (unsigned) n_conds, conds);
      if (rc < 0)
        return nsbox_fail (err, -rc, "add the unlogged rule for '%s'", op->args[1]);
      action = SCMP_ACT_ALLOW; /* here: the unlogged filter answers it */
    }
  rc = seccomp_rule_add_array (ctx, action, syscall_nr, (unsigned) n_conds, conds);
  if (rc < 0)
    return nsbox_fail (err, -rc, "add the rule for '%s'", op->args[1]);
  if (action == SCMP_ACT_NOTIFY)
    direct.notify_used = true;
  return 0;
}

/* Filter flags of the OCI spec (SECCOMP_FILTER_FLAG_*) as libseccomp attributes. */
static int
set_flag (scmp_filter_ctx ctx, const char *name, struct nsbox_error *err)
{
  static const struct
  {
    const char *name;
    enum scmp_filter_attr attr;
  } flags[] = {
    { "SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC },
    { "SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG },
    { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB },
  };
  int rc;

  if (strcmp (name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
    {
      direct.wanted = true;
      return 0;
    }
  if (strcmp (name, "NSBOX_SECCOMP_LOG_DENIALS") == 0)
    {
      quiet.wanted = true;
      name = "SECCOMP_FILTER_FLAG_LOG";
    }
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (strcmp (flags[i].name, name) == 0)
      {
        rc = seccomp_attr_set (ctx, flags[i].attr, 1);
        if (rc < 0)
          return nsbox_fail (err, -rc, "set the filter flag %s", name);
        return 0;
      }
  return nsbox_fail (err, EINVAL, "unknown seccomp filter flag '%s'", name);
}

static int export_bpf (scmp_filter_ctx ctx, struct sock_fprog *out, struct nsbox_error *err);

int
nsbox_seccomp_build (const struct nsbox_program *prog, scmp_filter_ctx *out,
                     struct nsbox_error *err)
{
  const struct nsbox_op *def = nsbox_program_find (prog, "seccomp.default");
  __attribute__ ((cleanup (release_ctx))) scmp_filter_ctx ctx = NULL;
  uint32_t default_action;
  int rc;

  *out = NULL;
  if (nsbox_program_find (prog, "seccomp.load") == NULL || direct.prepared)
    return 0;
  err->step = "seccomp.default";
  if (def == NULL)
    return nsbox_fail (err, EINVAL, "seccomp.load without seccomp.default");
  if (parse_action (def->args[0], &default_action) < 0)
    return nsbox_fail (err, EINVAL, "unknown action '%s'", def->args[0]);
  ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return nsbox_fail (err, EINVAL, "seccomp_init");
  /* no_new_privs is the `no_new_privs` op's business, not libseccomp's default. */
  rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0)
    return nsbox_fail (err, -rc, "seccomp_attr_set");

  err->step = "seccomp.flag";
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "seccomp.flag") == 0 && set_flag (ctx, prog->ops[i].args[0], err) < 0)
      return -1;

  /* Architectures first: rules are then added for every architecture of the filter. */
  err->step = "seccomp.arch";
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "seccomp.arch") == 0)
      {
        uint32_t arch = seccomp_arch_resolve_name (prog->ops[i].args[0]);
        if (arch == 0)
          return nsbox_fail (err, EINVAL, "unknown architecture '%s'", prog->ops[i].args[0]);
        rc = seccomp_arch_add (ctx, arch);
        if (rc < 0 && rc != -EEXIST)
          return nsbox_fail (err, -rc, "add the architecture '%s'", prog->ops[i].args[0]);
      }
  err->step = "seccomp.rule";
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "seccomp.rule") == 0
        && add_rule (prog, ctx, default_action, &prog->ops[i], err) < 0)
      return -1;
  if (direct.wanted && export_bpf (ctx, &direct.prog, err) < 0)
    return -1;
  err->step = NULL;
  *out = ctx;
  ctx = NULL;
  return 0;
}

/* The kernel's filter flags for a direct load: BASE and libseccomp's attributes. TSYNC comes
 * with TSYNC_ESRCH (a thread that cannot sync is ESRCH, not its tid), as libseccomp 2.5 does
 * on a kernel that has it. */
static unsigned int
filter_flags (scmp_filter_ctx ctx, unsigned int base)
{
  unsigned int flags = base;
  uint32_t on = 0;

  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_TSYNC, &on) == 0 && on)
    flags |= SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_LOG, &on) == 0 && on)
    flags |= SECCOMP_FILTER_FLAG_LOG;
  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_SSB, &on) == 0 && on)
    flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  return flags;
}

/* The listener, and WAIT_KILLABLE_RECV (which the kernel accepts only with NEW_LISTENER). */
static unsigned int
direct_flags (scmp_filter_ctx ctx)
{
  return filter_flags (ctx, SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
}

/* libseccomp's BPF for the filter, through a memfd (2.5 exports to an fd only). */
static int
export_bpf (scmp_filter_ctx ctx, struct sock_fprog *out, struct nsbox_error *err)
{
  cleanup_fd int fd = memfd_create ("nsbox-seccomp-bpf", MFD_CLOEXEC);
  off_t size;
  int rc;

  err->step = "seccomp.flag";
  if (fd < 0)
    return nsbox_fail (err, errno, "memfd_create for the filter's BPF");
  rc = seccomp_export_bpf (ctx, fd);
  if (rc < 0)
    return nsbox_fail (err, -rc, "export the filter's BPF");
  size = lseek (fd, 0, SEEK_END);
  if (size <= 0 || size % sizeof (struct sock_filter) != 0 || size / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return nsbox_fail (err, EINVAL, "the exported filter has %lld bytes", (long long) size);
  out->filter = malloc ((size_t) size);
  if (out->filter == NULL)
    return nsbox_fail (err, ENOMEM, "the filter's BPF");
  if (pread (fd, out->filter, (size_t) size, 0) != size)
    return nsbox_fail (err, errno ? errno : EIO, "read the filter's BPF back");
  out->len = (unsigned short) (size / sizeof (struct sock_filter));
  return 0;
}

/* The flags libseccomp's seccomp_load gives the kernel (2.5, on a kernel with TSYNC_ESRCH
 * and user notification): a prepared filter is loaded with seccomp(2) itself. */
static unsigned int
libseccomp_flags (scmp_filter_ctx ctx)
{
  return filter_flags (ctx, direct.notify_used ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
}

int
nsbox_seccomp_compile (const struct nsbox_program *prog, struct sock_fprog *bpf,
                       unsigned int *flags, struct nsbox_error *err)
{
  __attribute__ ((cleanup (release_ctx))) scmp_filter_ctx ctx = NULL;

  if (nsbox_seccomp_build (prog, &ctx, err) < 0)
    return -1;
  if (ctx == NULL)
    return 0;
  if (direct.prog.filter == NULL && export_bpf (ctx, &direct.prog, err) < 0)
    return -1;
  if (quiet.ctx != NULL && quiet.prog.filter == NULL)
    {
      if (export_bpf (quiet.ctx, &quiet.prog, err) < 0)
        return -1;
      quiet.flags = filter_flags (quiet.ctx, 0);
    }
  direct.flags = direct.wanted ? direct_flags (ctx) : libseccomp_flags (ctx);
  direct.prepared = true;
  *bpf = direct.prog;
  *flags = direct.flags;
  return 0;
}

/* A prepared filter's BPF (owned from then on) and the flags to load it with. */
static void
take_bpf (struct sock_fprog *prog, unsigned int *prog_flags, struct sock_filter *insns,
          unsigned short len, unsigned int flags)
{
  free (prog->filter);
  prog->filter = insns;
  prog->len = len;
  *prog_flags = flags;
}

void
nsbox_seccomp_use_bpf (struct sock_filter *insns, unsigned short len, unsigned int flags)
{
  take_bpf (&direct.prog, &direct.flags, insns, len, flags);
  direct.prepared = true;
}

void
nsbox_seccomp_quiet_bpf (struct sock_fprog *bpf, unsigned int *flags)
{
  *bpf = quiet.prog;
  *flags = quiet.flags;
}

void
nsbox_seccomp_use_quiet_bpf (struct sock_filter *insns, unsigned short len, unsigned int flags)
{
  take_bpf (&quiet.prog, &quiet.flags, insns, len, flags);
}

bool
nsbox_seccomp_prepared (void)
{
  return direct.prepared;
}

int
nsbox_seccomp_load (scmp_filter_ctx ctx, struct nsbox_error *err)
{
  int rc;

  /* First: the logged filter's own load then passes it (it allows seccomp). */
  if (quiet.prog.filter != NULL
      && syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, quiet.flags, &quiet.prog) < 0)
    {
      err->step = "seccomp.load";
      return nsbox_fail (err, errno, "load the unlogged seccomp filter");
    }
  if (quiet.prog.filter == NULL && quiet.ctx && (rc = seccomp_load (quiet.ctx)) < 0)
    {
      err->step = "seccomp.load";
      return nsbox_fail (err, -rc, "load the unlogged seccomp filter");
    }
  if (direct.prog.filter != NULL)
    {
      /* One syscall: nothing but it may run between the capabilities and execve. */
      unsigned int flags = direct.prepared ? direct.flags : direct_flags (ctx);
      int rc_load = (int) syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &direct.prog);
      if (rc_load < 0)
        {
          err->step = "seccomp.load";
          return nsbox_fail (err, errno, "load the seccomp filter%s",
                             direct.wanted ? " (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)" : "");
        }
      if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        direct.listener = rc_load;
      return 0;
    }
  rc = seccomp_load (ctx);
  if (rc < 0)
    {
      err->step = "seccomp.load";
      return nsbox_fail (err, -rc, "load the seccomp filter");
    }
  return 0;
}

int
nsbox_seccomp_listener_connect (const char *path, int *out, struct nsbox_error *err)
{
  struct sockaddr_un addr;
  cleanup_fd int dir_fd = -1;
  cleanup_fd int fd = -1;

  if (nsbox_unix_address (path, &addr, &dir_fd, err) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail (err, errno, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return nsbox_fail (err, errno, "connect to the seccomp agent at '%s'", path);
  *out = nsbox_steal_fd (&fd);
  return 0;
}

int
nsbox_seccomp_listener_payload (const struct nsbox_program *prog, pid_t pid,
                                struct nsbox_buf *out, struct nsbox_error *err)
{
  const struct nsbox_op *op = nsbox_program_find (prog, "seccomp.listener");

  nsbox_buf_str (out, "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":");
  nsbox_buf_int (out, pid);
  if (op->argc > 2)
    {
      nsbox_buf_str (out, ",\"metadata\":");
      nsbox_buf_json (out, op->args[2]);
    }
  nsbox_buf_str (out, ",\"state\":");
  if (nsbox_state_with_pid (op->args[1], pid, out) < 0)
    {
      err->step = "seccomp.listener";
      return nsbox_fail (err, ENOMEM, "build the state for the seccomp agent");
    }
  nsbox_buf_str (out, "}");
  if (out->failed)
    return nsbox_fail (err, ENOMEM, "build the state for the seccomp agent");
  return 0;
}

int
nsbox_seccomp_listener_send (scmp_filter_ctx ctx, int sock, const struct nsbox_buf *payload,
                             struct nsbox_error *err)
{
  int listener = direct.listener >= 0 ? direct.listener : ctx ? seccomp_notify_fd (ctx) : -ENOENT;
  char control[CMSG_SPACE (sizeof (int))] = { 0 };
  struct iovec iov = { .iov_base = payload->p, .iov_len = payload->len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);

  err->step = "seccomp.listener";
  if (listener < 0)
    return nsbox_fail (err, -listener, "the filter has no listener (no SCMP_ACT_NOTIFY rule)");
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &listener, sizeof (int));
  while (sendmsg (sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return nsbox_fail (err, errno, "send the seccomp listener to the agent");
  return 0;
}
