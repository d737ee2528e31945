/* Decoder of the launch program (native/PROTOCOL.md §1): a flat list of ops, each a
 * name and its string arguments. The decoder knows the op names, their arity, their
 * phase and in which mode they are allowed; it holds no policy. */
#ifndef NSBOX_PROGRAM_H
#define NSBOX_PROGRAM_H

#include "common.h"

#define NSBOX_PROGRAM_MAGIC "NSBX"
#define NSBOX_PROGRAM_VERSION 1
/* Bounds that no real program reaches; they keep a corrupt length from allocating GBs. */
#define NSBOX_PROGRAM_MAX_BYTES (16u << 20)
#define NSBOX_PROGRAM_MAX_OPS 65536u
#define NSBOX_PROGRAM_MAX_ARGS 65536u

enum nsbox_phase
{
  NSBOX_PHASE_HOST,   /* in the launcher, before clone (mode, namespaces, cgroups...) */
  NSBOX_PHASE_PARENT, /* in the launcher, on the child after clone (id maps, rlimits) */
  NSBOX_PHASE_CHILD,  /* in the child, in program order (mounts, hostname...) */
  NSBOX_PHASE_FINAL,  /* in the child, in a fixed order just before exec (user, caps...) */
  NSBOX_PHASE_HOOK,   /* OCI hooks: each kind at its moment (launcher-hooks.c) */
};

/* Where an op may appear. */
enum
{
  NSBOX_IN_CREATE = 1 << 0,
  NSBOX_IN_JOIN = 1 << 1,
};

/* Ordering constraints checked when the program is validated. */
enum
{
  NSBOX_NEEDS_ROOTFS = 1 << 0, /* after a `rootfs` op */
  NSBOX_NEEDS_PIVOT = 1 << 1,  /* after the `pivot_root` op */
  NSBOX_BEFORE_PIVOT = 1 << 2, /* before the `pivot_root` op */
};

struct nsbox_op_spec
{
  const char *name;
  enum nsbox_phase phase;
  unsigned min_args; /* not counting the name */
  unsigned max_args; /* UINT_MAX: no limit */
  unsigned modes;
  unsigned order;
};

struct nsbox_op
{
  const struct nsbox_op_spec *spec;
  const char *name;   /* == argv[0] */
  size_t argc;        /* arguments, not counting the name */
  char **args;        /* argc strings then NULL */
};

struct nsbox_program
{
  size_t n_ops;
  struct nsbox_op *ops;
  char *storage; /* one block holding every string */
};

const struct nsbox_op_spec *nsbox_op_lookup (const char *name);

/* Decodes buf into prog. Errors have step `read-program` and errno EINVAL (EPROTO for a
 * bad magic or version). */
int nsbox_program_decode (const void *buf, size_t len, struct nsbox_program *prog,
                          struct nsbox_error *err);

/* Checks names, arity, the mode and the order of ops (see the NSBOX_NEEDS_* flags).
 * Unknown op → `read-program 22 unknown op 'X'`. */
int nsbox_program_validate (const struct nsbox_program *prog, struct nsbox_error *err);

/* Reads fd to EOF, decodes and validates. */
int nsbox_program_read (int fd, struct nsbox_program *prog, struct nsbox_error *err);

void nsbox_program_free (struct nsbox_program *prog);

/* The last op with this name, or NULL. */
const struct nsbox_op *nsbox_program_find (const struct nsbox_program *prog,
                                           const char *name);

/* The hook kinds of the `hook` op, NULL-terminated, and the check of one such op. */
extern const char *const nsbox_hook_kinds[];
int nsbox_hook_check (const struct nsbox_op *op, struct nsbox_error *err);

/* The mode the program asks for: NSBOX_IN_CREATE (the default) or NSBOX_IN_JOIN. */
unsigned nsbox_program_mode (const struct nsbox_program *prog);

#endif
