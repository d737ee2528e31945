/* bpf.devices and bpf.inet (host ops): cgroup BPF programs the launcher attaches to the
 * box's cgroup2 directory before it clones, so that the box's first instruction already
 * runs under them.
 *
 *   bpf.devices DIR RULE...  a BPF_CGROUP_DEVICE program: the device allowlist on cgroup2
 *                            (the v1 devices controller has files for it; v2 has only this)
 *   bpf.inet DIR ADDR...     BPF_CGROUP_INET{4,6}_BIND, INET{4,6}_CONNECT and
 *                            UDP{4,6}_SENDMSG programs that confine a box sharing the host's
 *                            network stack to its addresses (VServer's chbind)
 *
 * The programs are assembled here from the arguments (no compiler, no object files),
 * loaded and attached with libbpf, and stay attached until the cgroup is removed: the
 * launcher closes its fds. BPF_F_ALLOW_MULTI lets programs of a parent cgroup and ours
 * all run; every one of them must allow. */
#include "launcher.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#define MAX_INSNS 4096
#define MAX_LABELS 1024
#define MAX_FIXUPS 4096
#define MAX_ADDRS 64

/* A tiny assembler: instructions, labels and the forward jumps to patch. */
struct bpf_asm
{
  struct bpf_insn insns[MAX_INSNS];
  size_t n;
  long labels[MAX_LABELS];
  int n_labels;
  struct
  {
    size_t at;
    int label;
  } fixups[MAX_FIXUPS];
  size_t n_fixups;
  bool overflow;
};

static void
emit (struct bpf_asm *a, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  if (a->n >= MAX_INSNS)
    {
      a->overflow = true;
      return;
    }
  a->insns[a->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src,
                                        .off = off, .imm = imm };
}

static int
new_label (struct bpf_asm *a)
{
  if (a->n_labels >= MAX_LABELS)
    {
      a->overflow = true;
      return 0;
    }
  a->labels[a->n_labels] = -1;
  return a->n_labels++;
}

static void
place (struct bpf_asm *a, int label)
{
  a->labels[label] = (long) a->n;
}

/* A conditional jump (or `ja` with code BPF_JMP|BPF_JA) to a label placed later. */
static void
jump (struct bpf_asm *a, uint8_t code, uint8_t dst, uint32_t imm, int label)
{
  if (a->n_fixups >= MAX_FIXUPS)
    {
      a->overflow = true;
      return;
    }
  a->fixups[a->n_fixups].at = a->n;
  a->fixups[a->n_fixups].label = label;
  a->n_fixups++;
  emit (a, code, dst, 0, 0, (int32_t) imm);
}

static int
resolve (struct bpf_asm *a, struct nsbox_error *err)
{
  if (a->overflow)
    return nsbox_fail (err, E2BIG, "the BPF program is too large");
  for (size_t i = 0; i < a->n_fixups; i++)
    {
      long target = a->labels[a->fixups[i].label];
      long off = target - (long) a->fixups[i].at - 1;
      if (target < 0 || off < 0 || off > INT16_MAX)
        return nsbox_fail (err, EINVAL, "bad jump in the BPF program");
      a->insns[a->fixups[i].at].off = (int16_t) off;
    }
  return 0;
}

/* Instruction shorthands. */
#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R5 BPF_REG_5
#define R6 BPF_REG_6
#define R10 BPF_REG_10

static void
mov64_reg (struct bpf_asm *a, uint8_t dst, uint8_t src)
{
  emit (a, BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}

/* 32-bit mov: zero-extends, so any u32 value fits. */
static void
mov32_imm (struct bpf_asm *a, uint8_t dst, uint32_t imm)
{
  emit (a, BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, (int32_t) imm);
}

static void
ld_imm64 (struct bpf_asm *a, uint8_t dst, uint64_t value)
{
  emit (a, BPF_LD | BPF_DW | BPF_IMM, dst, 0, 0, (int32_t) (uint32_t) value);
  emit (a, 0, 0, 0, 0, (int32_t) (uint32_t) (value >> 32));
}

static void
ldx_w (struct bpf_asm *a, uint8_t dst, uint8_t src, int16_t off)
{
  emit (a, BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}

static void
stx_w (struct bpf_asm *a, uint8_t dst, int16_t off, uint8_t src)
{
  emit (a, BPF_STX | BPF_MEM | BPF_W, dst, src, off, 0);
}

static void
stx_dw (struct bpf_asm *a, uint8_t dst, int16_t off, uint8_t src)
{
  emit (a, BPF_STX | BPF_MEM | BPF_DW, dst, src, off, 0);
}

static void
ret (struct bpf_asm *a, int value)
{
  emit (a, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, value);
  emit (a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* Jumps on the low 32 bits of a register (BPF_JMP32: no sign extension of the imm). */
static void
jne32 (struct bpf_asm *a, uint8_t reg, uint32_t imm, int label)
{
  jump (a, BPF_JMP32 | BPF_JNE | BPF_K, reg, imm, label);
}

static void
jeq32 (struct bpf_asm *a, uint8_t reg, uint32_t imm, int label)
{
  jump (a, BPF_JMP32 | BPF_JEQ | BPF_K, reg, imm, label);
}

static void
ja (struct bpf_asm *a, int label)
{
  jump (a, BPF_JMP | BPF_JA, 0, 0, label);
}

/* Loads, attaches to the cgroup2 directory and closes the program. */
static int
load_and_attach (struct bpf_asm *a, enum bpf_prog_type type, enum bpf_attach_type attach,
                 const char *name, int cgroup_fd, struct nsbox_error *err)
{
  char log[4096] = "";
  LIBBPF_OPTS (bpf_prog_load_opts, opts, .expected_attach_type = attach, .log_buf = log,
               .log_size = sizeof log);
  cleanup_fd int prog = -1;

  if (resolve (a, err) < 0)
    return -1;
  prog = bpf_prog_load (type, name, "GPL", a->insns, a->n, &opts);
  if (prog < 0)
    {
      /* The verifier's first lines say why. */
      for (char *c = log; *c; c++)
        if (*c == '\n')
          *c = ' ';
      log[200] = '\0';
      return nsbox_fail (err, -prog, "load the BPF program %s (%s)", name, log);
    }
  if (bpf_prog_attach (prog, cgroup_fd, attach, BPF_F_ALLOW_MULTI) < 0)
    return nsbox_fail (err, errno, "attach the BPF program %s to the box's cgroup", name);
  return 0;
}

static int
open_cgroup2 (const char *path, struct nsbox_error *err)
{
  cleanup_fd int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct statfs sfs;

  if (fd < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  if (fstatfs (fd, &sfs) < 0)
    return nsbox_fail (err, errno, "statfs '%s'", path);
  if (sfs.f_type != CGROUP2_SUPER_MAGIC)
    return nsbox_fail (err, ENOTSUP, "'%s' is not a cgroup2 directory", path);
  return nsbox_steal_fd (&fd);
}

/* ---- devices ---------------------------------------------------------------------- */

struct dev_rule
{
  char type;       /* 'a', 'b' or 'c' */
  long long major; /* -1: any */
  long long minor; /* -1: any */
  unsigned access; /* BPF_DEVCG_ACC_* bits */
  bool allow;
};

static int
parse_dev_number (const char *text, long long *out)
{
  if (strcmp (text, "*") == 0)
    {
      *out = -1;
      return 0;
    }
  return nsbox_parse_long (text, 0, UINT32_MAX, out);
}

/* `TYPE:MAJOR:MINOR:ACCESS:allow|deny`, e.g. `c:1:3:rwm:allow`, `a:*:*:rwm:deny`. */
static int
parse_dev_rule (const char *text, struct dev_rule *rule)
{
  char buf[128], *save = NULL, *fields[5];
  int n = 0;

  if (snprintf (buf, sizeof buf, "%s", text) >= (int) sizeof buf)
    return -1;
  for (char *f = strtok_r (buf, ":", &save); f && n < 5; f = strtok_r (NULL, ":", &save))
    fields[n++] = f;
  if (n != 5 || strtok_r (NULL, ":", &save) != NULL)
    return -1;
  if (strlen (fields[0]) != 1 || !strchr ("abc", fields[0][0]))
    return -1;
  rule->type = fields[0][0];
  if (parse_dev_number (fields[1], &rule->major) < 0
      || parse_dev_number (fields[2], &rule->minor) < 0)
    return -1;
  rule->access = 0;
  for (const char *c = fields[3]; *c; c++)
    if (*c == 'r')
      rule->access |= BPF_DEVCG_ACC_READ;
    else if (*c == 'w')
      rule->access |= BPF_DEVCG_ACC_WRITE;
    else if (*c == 'm')
      rule->access |= BPF_DEVCG_ACC_MKNOD;
    else
      return -1;
  if (rule->access == 0)
    return -1;
  if (strcmp (fields[4], "allow") == 0)
    rule->allow = true;
  else if (strcmp (fields[4], "deny") == 0)
    rule->allow = false;
  else
    return -1;
  return 0;
}

/* As in the OCI spec, a later rule overrides an earlier one: the rules are checked last
 * first and the first that matches decides; nothing matching means deny. An allow rule
 * matches a request whose access it covers entirely, a deny rule one that asks for any
 * access it names. */
static int
assemble_devices (struct bpf_asm *a, const struct nsbox_op *op, struct nsbox_error *err)
{
  /* r2 = access, r3 = type, r4 = major, r5 = minor */
  ldx_w (a, R2, R1, offsetof (struct bpf_cgroup_dev_ctx, access_type));
  mov64_reg (a, R3, R2);
  emit (a, BPF_ALU | BPF_AND | BPF_K, R3, 0, 0, 0xffff);
  emit (a, BPF_ALU | BPF_RSH | BPF_K, R2, 0, 0, 16);
  ldx_w (a, R4, R1, offsetof (struct bpf_cgroup_dev_ctx, major));
  ldx_w (a, R5, R1, offsetof (struct bpf_cgroup_dev_ctx, minor));

  for (size_t i = op->argc; i-- > 1;)
    {
      struct dev_rule rule;
      int next = new_label (a);

      if (parse_dev_rule (op->args[i], &rule) < 0)
        return nsbox_fail (err, EINVAL, "bad device rule '%s'", op->args[i]);
      /* `a:*:*:rwm:allow` (a privileged box) matches every request: the earlier rules can
       * never decide, and the verifier refuses code that cannot be reached. */
      if (rule.type == 'a' && rule.major < 0 && rule.minor < 0 && rule.allow
          && rule.access == (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD))
        {
          ret (a, 1);
          return 0;
        }
      if (rule.type != 'a')
        jne32 (a, R3, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, next);
      if (rule.access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)
          || !rule.allow)
        {
          mov64_reg (a, R1, R2);
          if (rule.allow)
            {
              /* access & ~rule != 0: asks for more than the rule covers */
              emit (a, BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, (int32_t) (~rule.access & 7u));
              jne32 (a, R1, 0, next);
            }
          else
            {
              /* access & rule == 0: asks for nothing the rule denies */
              emit (a, BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, (int32_t) rule.access);
              jeq32 (a, R1, 0, next);
            }
        }
      if (rule.major >= 0)
        jne32 (a, R4, (uint32_t) rule.major, next);
      if (rule.minor >= 0)
        jne32 (a, R5, (uint32_t) rule.minor, next);
      ret (a, rule.allow ? 1 : 0);
      place (a, next);
    }
  ret (a, 0);
  return 0;
}

static int
op_bpf_devices (const struct nsbox_op *op, struct nsbox_error *err)
{
  static struct bpf_asm a;
  cleanup_fd int cgroup = open_cgroup2 (op->args[0], err);

  if (cgroup < 0)
    return -1;
  memset (&a, 0, sizeof a);
  if (assemble_devices (&a, op, err) < 0)
    return -1;
  return load_and_attach (&a, BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, "nsbox_devices",
                          cgroup, err);
}

/* ---- IP confinement -------------------------------------------------------------- */

struct addrs
{
  uint32_t v4[MAX_ADDRS]; /* network order, as the program loads them */
  size_t n4;
  uint32_t v6[MAX_ADDRS][4];
  size_t n6;
};

#define CTX_OFF(field) ((int16_t) offsetof (struct bpf_sock_addr, field))

static uint32_t
mapped_prefix (void)
{
  return htonl (0xffff);
}

/* Loads the four words of an IPv6 address field into r2..r5. */
static void
load_ip6 (struct bpf_asm *a, int16_t off)
{
  for (int i = 0; i < 4; i++)
    ldx_w (a, (uint8_t) (R2 + i), R6, (int16_t) (off + 4 * i));
}

static void
store_ip6 (struct bpf_asm *a, int16_t off, const uint32_t words[4])
{
  for (int i = 0; i < 4; i++)
    {
      mov32_imm (a, R2, words[i]);
      stx_w (a, R6, (int16_t) (off + 4 * i), R2);
    }
}

/* Jumps to `label` when r2..r5 are not all `words`. */
static void
jne_ip6 (struct bpf_asm *a, const uint32_t words[4], int label)
{
  for (int i = 0; i < 4; i++)
    jne32 (a, (uint8_t) (R2 + i), words[i], label);
}

/* Jumps to `yes` when r2..r5 hold one of the box's addresses, v6 or v4-mapped. */
static void
match_ip6 (struct bpf_asm *a, const struct addrs *ad, int yes)
{
  for (size_t i = 0; i < ad->n6; i++)
    {
      int next = new_label (a);
      jne_ip6 (a, ad->v6[i], next);
      ja (a, yes);
      place (a, next);
    }
  if (ad->n4 > 0)
    {
      int next = new_label (a);
      jne32 (a, R2, 0, next);
      jne32 (a, R3, 0, next);
      jne32 (a, R4, mapped_prefix (), next);
      for (size_t i = 0; i < ad->n4; i++)
        jeq32 (a, R5, ad->v4[i], yes);
      place (a, next);
    }
}

/* Jumps to `label` when r2..r5 are not all zero (not the unspecified address). */
static void
jnot_any6 (struct bpf_asm *a, int label)
{
  for (int i = 0; i < 4; i++)
    jne32 (a, (uint8_t) (R2 + i), 0, label);
}

/* The first address of the box for a v6 socket: its first v6, else its first v4 as a
 * v4-mapped address; false when it has neither. */
static bool
first_ip6 (const struct addrs *ad, uint32_t out[4])
{
  if (ad->n6 > 0)
    {
      memcpy (out, ad->v6[0], 16);
      return true;
    }
  if (ad->n4 > 0)
    {
      out[0] = out[1] = 0;
      out[2] = mapped_prefix ();
      out[3] = ad->v4[0];
      return true;
    }
  return false;
}

/* bind4: 0.0.0.0 becomes the box's first address; one of its addresses is fine; anything
 * else is EPERM. */
static void
assemble_bind4 (struct bpf_asm *a, const struct addrs *ad)
{
  int rewrite = new_label (a), allow = new_label (a);

  mov64_reg (a, R6, R1);
  if (ad->n4 == 0)
    {
      ret (a, 0);
      return;
    }
  ldx_w (a, R2, R6, CTX_OFF (user_ip4));
  jeq32 (a, R2, 0, rewrite);
  for (size_t i = 0; i < ad->n4; i++)
    jeq32 (a, R2, ad->v4[i], allow);
  ret (a, 0);
  place (a, rewrite);
  mov32_imm (a, R2, ad->v4[0]);
  stx_w (a, R6, CTX_OFF (user_ip4), R2);
  place (a, allow);
  ret (a, 1);
}

/* bind6: [::] becomes the box's first address (v4-mapped when it has no v6). */
static void
assemble_bind6 (struct bpf_asm *a, const struct addrs *ad)
{
  int not_any = new_label (a), allow = new_label (a);
  uint32_t first[4];

  mov64_reg (a, R6, R1);
  load_ip6 (a, CTX_OFF (user_ip6));
  jnot_any6 (a, not_any);
  if (!first_ip6 (ad, first))
    ret (a, 0);
  else
    {
      store_ip6 (a, CTX_OFF (user_ip6), first);
      ret (a, 1);
    }
  place (a, not_any);
  match_ip6 (a, ad, allow);
  ret (a, 0);
  place (a, allow);
  ret (a, 1);
}

/* Builds a sockaddr at fp-32 and calls bpf_bind(ctx, addr, len). */
static void
call_bind (struct bpf_asm *a, bool v6, const uint32_t words[4])
{
  if (v6)
    {
      /* sockaddr_in6: family, port 0, flowinfo 0 | address | scope id 0 */
      ld_imm64 (a, R2, AF_INET6);
      stx_dw (a, R10, -32, R2);
      ld_imm64 (a, R2, (uint64_t) words[0] | (uint64_t) words[1] << 32);
      stx_dw (a, R10, -24, R2);
      ld_imm64 (a, R2, (uint64_t) words[2] | (uint64_t) words[3] << 32);
      stx_dw (a, R10, -16, R2);
      ld_imm64 (a, R2, 0);
      stx_dw (a, R10, -8, R2);
    }
  else
    {
      /* sockaddr_in: family, port 0, address | zero */
      ld_imm64 (a, R2, (uint64_t) AF_INET | (uint64_t) words[0] << 32);
      stx_dw (a, R10, -32, R2);
      ld_imm64 (a, R2, 0);
      stx_dw (a, R10, -24, R2);
    }
  mov64_reg (a, R1, R6);
  mov64_reg (a, R2, R10);
  emit (a, BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, -32);
  emit (a, BPF_ALU64 | BPF_MOV | BPF_K, R3, 0, 0,
        v6 ? (int32_t) sizeof (struct sockaddr_in6) : (int32_t) sizeof (struct sockaddr_in));
  emit (a, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_bind);
}

/* connect4: the socket's source becomes the box's first address (bpf_bind; a socket
 * already bound keeps its address, which bind4 confined). */
static void
assemble_connect4 (struct bpf_asm *a, const struct addrs *ad)
{
  mov64_reg (a, R6, R1);
  if (ad->n4 == 0)
    {
      ret (a, 0);
      return;
    }
  call_bind (a, false, ad->v4);
  ret (a, 1);
}

static void
assemble_connect6 (struct bpf_asm *a, const struct addrs *ad)
{
  int native = new_label (a);

  mov64_reg (a, R6, R1);
  load_ip6 (a, CTX_OFF (user_ip6));
  /* A v4-mapped destination needs a v4(-mapped) source. */
  jne32 (a, R2, 0, native);
  jne32 (a, R3, 0, native);
  jne32 (a, R4, mapped_prefix (), native);
  if (ad->n4 == 0)
    ret (a, 0);
  else
    {
      uint32_t mapped[4] = { 0, 0, mapped_prefix (), ad->v4[0] };
      call_bind (a, true, mapped);
      ret (a, 1);
    }
  place (a, native);
  if (ad->n6 == 0)
    ret (a, 0);
  else
    {
      call_bind (a, true, ad->v6[0]);
      ret (a, 1);
    }
}

/* sendmsg4 (unconnected UDP): no source yet → the box's first address; a source given
 * (bound socket, IP_PKTINFO) must be one of the box's. */
static void
assemble_sendmsg4 (struct bpf_asm *a, const struct addrs *ad)
{
  int rewrite = new_label (a), allow = new_label (a);

  mov64_reg (a, R6, R1);
  if (ad->n4 == 0)
    {
      ret (a, 0);
      return;
    }
  ldx_w (a, R2, R6, CTX_OFF (msg_src_ip4));
  jeq32 (a, R2, 0, rewrite);
  for (size_t i = 0; i < ad->n4; i++)
    jeq32 (a, R2, ad->v4[i], allow);
  ret (a, 0);
  place (a, rewrite);
  mov32_imm (a, R2, ad->v4[0]);
  stx_w (a, R6, CTX_OFF (msg_src_ip4), R2);
  place (a, allow);
  ret (a, 1);
}

static void
assemble_sendmsg6 (struct bpf_asm *a, const struct addrs *ad)
{
  int not_any = new_label (a), allow = new_label (a);
  uint32_t first[4];

  mov64_reg (a, R6, R1);
  load_ip6 (a, CTX_OFF (msg_src_ip6));
  jnot_any6 (a, not_any);
  if (!first_ip6 (ad, first))
    ret (a, 0);
  else
    {
      store_ip6 (a, CTX_OFF (msg_src_ip6), first);
      ret (a, 1);
    }
  place (a, not_any);
  match_ip6 (a, ad, allow);
  ret (a, 0);
  place (a, allow);
  ret (a, 1);
}

static int
parse_addrs (const struct nsbox_op *op, struct addrs *ad, struct nsbox_error *err)
{
  memset (ad, 0, sizeof *ad);
  for (size_t i = 1; i < op->argc; i++)
    {
      struct in6_addr a6;
      struct in_addr a4;

      if (inet_pton (AF_INET, op->args[i], &a4) == 1)
        {
          if (ad->n4 >= MAX_ADDRS)
            return nsbox_fail (err, E2BIG, "more than %d IPv4 addresses", MAX_ADDRS);
          ad->v4[ad->n4++] = a4.s_addr;
        }
      else if (inet_pton (AF_INET6, op->args[i], &a6) == 1)
        {
          if (ad->n6 >= MAX_ADDRS)
            return nsbox_fail (err, E2BIG, "more than %d IPv6 addresses", MAX_ADDRS);
          memcpy (ad->v6[ad->n6++], &a6, 16);
        }
      else
        return nsbox_fail (err, EINVAL, "bad address '%s'", op->args[i]);
    }
  return 0;
}

static int
op_bpf_inet (const struct nsbox_op *op, struct nsbox_error *err)
{
  static const struct
  {
    enum bpf_attach_type type;
    const char *name;
    void (*assemble) (struct bpf_asm *, const struct addrs *);
  } progs[] = {
    { BPF_CGROUP_INET4_BIND, "nsbox_bind4", assemble_bind4 },
    { BPF_CGROUP_INET6_BIND, "nsbox_bind6", assemble_bind6 },
    { BPF_CGROUP_INET4_CONNECT, "nsbox_connect4", assemble_connect4 },
    { BPF_CGROUP_INET6_CONNECT, "nsbox_connect6", assemble_connect6 },
    { BPF_CGROUP_UDP4_SENDMSG, "nsbox_sendmsg4", assemble_sendmsg4 },
    { BPF_CGROUP_UDP6_SENDMSG, "nsbox_sendmsg6", assemble_sendmsg6 },
  };
  static struct bpf_asm a;
  struct addrs ad;
  cleanup_fd int cgroup = open_cgroup2 (op->args[0], err);

  if (cgroup < 0 || parse_addrs (op, &ad, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
    {
      memset (&a, 0, sizeof a);
      progs[i].assemble (&a, &ad);
      if (load_and_attach (&a, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, progs[i].type, progs[i].name,
                           cgroup, err)
          < 0)
        return -1;
    }
  return 0;
}

int
nsbox_bpf_op (const struct nsbox_op *op, struct nsbox_error *err)
{
  if (strcmp (op->name, "bpf.devices") == 0)
    return op_bpf_devices (op, err);
  if (strcmp (op->name, "bpf.inet") == 0)
    return op_bpf_inet (op, err);
  return 1;
}
