/* `seccomp.cache DIR`: the compiled seccomp filter, kept between starts.
 *
 * libseccomp compiles a filter of a few hundred rules for three architectures (the
 * isolation plugin's profile) in about 11 ms of CPU, every start and every exec. The BPF
 * depends only on the seccomp ops, libseccomp's version and the native architecture: the
 * launcher keeps it in DIR (the runtime's own state, root's, mode 0700) under a hash of
 * those, and reads it back on the next start instead of compiling.
 *
 * The hash only names the file: an entry holds its whole key (the ops as they were), and is
 * used only when that key equals this program's byte for byte, so two filters whose hashes
 * collide never stand in for each other. An entry not owned by root or writable by others is
 * ignored, and so is a DIR not root's or writable by others. The launcher does this before
 * it clones (or forks, in join mode), as the host's root: the child inherits the BPF and
 * loads it with seccomp(2) and the flags libseccomp would give (launcher-seccomp.c). Without a usable DIR the child builds the filter itself,
 * as without the op; a failure to keep an entry is not an error.
 *
 * An entry: "nsbox-seccomp-bpf 2\n", then u32 flags, u32 key length, u32 instructions,
 * u32 flags and u32 instructions of NSBOX_SECCOMP_LOG_DENIALS's unlogged filter (0: none)
 * (native endian), the key, the instructions, the unlogged filter's instructions. Both
 * filters are one entry: the logged one alone allows what the unlogged one answers. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/uio.h>
#include <unistd.h>

static const char entry_magic[] = "nsbox-seccomp-bpf 2\n";
/* Far more than BPF_MAXINSNS instructions and a key of every rule. */
#define MAX_ENTRY (4u << 20)
/* Entries kept at most: a box's config may change its profile (isolation's allow and deny
 * lists), so a tenant could otherwise fill the state's disk with one entry per start. A
 * profile met when the cache is full is compiled at each start, as without a cache. */
#define MAX_ENTRIES 256

struct entry_header
{
  uint32_t flags;
  uint32_t key_len;
  uint32_t insns;
  uint32_t quiet_flags;
  uint32_t quiet_insns;
};

/* A filter's instructions, copied out of an entry. */
static struct sock_filter *
copy_insns (const char *from, uint32_t n)
{
  struct sock_filter *insns = malloc ((size_t) n * sizeof (struct sock_filter));
  if (insns != NULL)
    memcpy (insns, from, (size_t) n * sizeof (struct sock_filter));
  return insns;
}

static void
free_buf (struct nsbox_buf *b)
{
  free (b->p);
}

/* Every op that shapes the filter, in program order, each string length-prefixed, after the
 * versions of what compiles it. */
static void
cache_key (const struct nsbox_program *prog, struct nsbox_buf *key)
{
  const struct scmp_version *version = seccomp_version ();

  nsbox_buf_str (key, "libseccomp ");
  nsbox_buf_int (key, version->major);
  nsbox_buf_str (key, ".");
  nsbox_buf_int (key, version->minor);
  nsbox_buf_str (key, ".");
  nsbox_buf_int (key, version->micro);
  nsbox_buf_str (key, " arch ");
  nsbox_buf_int (key, seccomp_arch_native ());
  nsbox_buf_str (key, "\n");
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];

      if (strncmp (op->name, "seccomp.", 8) != 0 || strcmp (op->name, "seccomp.listener") == 0
          || strcmp (op->name, "seccomp.cache") == 0)
        continue;
      for (size_t a = 0; a <= op->argc; a++)
        {
          const char *text = a == 0 ? op->name : op->args[a - 1];
          nsbox_buf_int (key, (int64_t) strlen (text));
          nsbox_buf_str (key, ":");
          nsbox_buf_str (key, text);
        }
      nsbox_buf_str (key, "\n");
    }
}

/* FNV-1a, 64 bits: a file name, not a check. */
static uint64_t
fnv1a (const char *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    {
      h ^= (unsigned char) p[i];
      h *= 0x100000001b3ULL;
    }
  return h;
}

/* The entry NAME in DIR when its key is KEY: given to launcher-seccomp.c as the prepared filters. */
static int
read_entry (int dir_fd, const char *name, const struct nsbox_buf *key)
{
  cleanup_fd int fd = openat (dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free char *data = NULL;
  struct entry_header header;
  const size_t head = sizeof entry_magic - 1 + sizeof header;
  struct stat st;
  size_t size;
  const char *bpf;
  struct sock_filter *insns = NULL;
  struct sock_filter *quiet = NULL;

  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != 0
      || (st.st_mode & 022) != 0 || st.st_size < (off_t) head || st.st_size > MAX_ENTRY)
    return -1;
  size = (size_t) st.st_size;
  data = malloc (size);
  if (data == NULL || pread (fd, data, size, 0) != (ssize_t) size
      || memcmp (data, entry_magic, sizeof entry_magic - 1) != 0)
    return -1;
  memcpy (&header, data + sizeof entry_magic - 1, sizeof header);
  if (header.key_len != key->len || header.insns == 0 || header.insns > BPF_MAXINSNS
      || header.quiet_insns > BPF_MAXINSNS
      || size != head + header.key_len
                      + (size_t) (header.insns + header.quiet_insns) * sizeof (struct sock_filter)
      || memcmp (data + head, key->p, key->len) != 0)
    return -1;
  bpf = data + head + header.key_len;
  insns = copy_insns (bpf, header.insns);
  if (header.quiet_insns > 0)
    quiet = copy_insns (bpf + (size_t) header.insns * sizeof (struct sock_filter), header.quiet_insns);
  if (insns == NULL || (header.quiet_insns > 0 && quiet == NULL))
    {
      free (insns);
      free (quiet);
      return -1;
    }
  nsbox_seccomp_use_bpf (insns, (unsigned short) header.insns, header.flags);
  if (quiet != NULL)
    nsbox_seccomp_use_quiet_bpf (quiet, (unsigned short) header.quiet_insns, header.quiet_flags);
  return 0;
}

/* Whether DIR has room for one more entry (MAX_ENTRIES). */
static bool
has_room (int dir_fd)
{
  int fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd < 0 ? NULL : fdopendir (fd);
  size_t entries = 0;
  struct dirent *entry;

  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return false;
    }
  while ((entry = readdir (dir)) != NULL && entries < MAX_ENTRIES)
    if (entry->d_name[0] != '.')
      entries++;
  closedir (dir);
  return entries < MAX_ENTRIES;
}

/* Written to a file of its own, then renamed: a reader sees a whole entry or none. */
static void
write_entry (int dir_fd, const char *name, const struct nsbox_buf *key,
             const struct sock_fprog *bpf, unsigned int flags)
{
  struct sock_fprog quiet = { 0 };
  unsigned int quiet_flags = 0;

  nsbox_seccomp_quiet_bpf (&quiet, &quiet_flags);
  struct entry_header header = { .flags = flags, .key_len = (uint32_t) key->len, .insns = bpf->len,
                                 .quiet_flags = quiet_flags, .quiet_insns = quiet.filter ? quiet.len : 0 };
  struct iovec parts[] = {
    { (void *) entry_magic, sizeof entry_magic - 1 },
    { &header, sizeof header },
    { key->p, key->len },
    { bpf->filter, (size_t) bpf->len * sizeof (struct sock_filter) },
    { quiet.filter, (size_t) header.quiet_insns * sizeof (struct sock_filter) },
  };
  size_t total = 0;
  char tmp[64];
  cleanup_fd int fd = -1;

  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    total += parts[i].iov_len;
  snprintf (tmp, sizeof tmp, ".%s.%d", name, (int) getpid ());
  fd = openat (dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  if (writev (fd, parts, sizeof parts / sizeof parts[0]) != (ssize_t) total
      || renameat (dir_fd, tmp, dir_fd, name) < 0)
    unlinkat (dir_fd, tmp, 0);
}

int
nsbox_seccomp_prepare (const struct nsbox_program *prog, const char *dir,
                       struct nsbox_error *err)
{
  __attribute__ ((cleanup (free_buf))) struct nsbox_buf key = NSBOX_BUF_GROWING;
  cleanup_fd int dir_fd = -1;
  struct sock_fprog bpf = { 0 };
  unsigned int flags = 0;
  struct stat st;
  char name[32];

  if (nsbox_program_find (prog, "seccomp.load") == NULL)
    return 0;
  dir_fd = open (dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  /* No cache, or one that others could write into: the child compiles the filter. */
  if (dir_fd < 0 || fstat (dir_fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022) != 0)
    return 0;
  cache_key (prog, &key);
  if (key.failed)
    return 0;
  snprintf (name, sizeof name, "%016llx", (unsigned long long) fnv1a (key.p, key.len));
  if (read_entry (dir_fd, name, &key) == 0)
    return 0;
  /* A miss: compile it now (its errors are the ones the child would report), and keep it. */
  if (nsbox_seccomp_compile (prog, &bpf, &flags, err) < 0)
    return -1;
  if (bpf.filter != NULL && has_room (dir_fd))
    write_entry (dir_fd, name, &key, &bpf, flags);
  return 0;
}
