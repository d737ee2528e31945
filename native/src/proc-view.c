/* nsbox-proc-view: a box's own /proc/meminfo, cpuinfo, stat, loadavg, swaps, diskstats and
 * /sys/devices/system/cpu/online (native/PROTOCOL.md §2, "/proc views").
 *
 *   nsbox-proc-view --config FILE --init-pid PID --started-boottime-ns NS [--mount]
 *
 * Started, and started again when it dies, by the box's shim with fd 3 = the box's FUSE
 * connection for its /proc and /sys views, fd 6 = a second one for its /dev/kmsg (both
 * /dev/fuse, opened and kept by the shim) and fd 4 = a page shared by every server of the
 * box. With `--mount` (the first start, while the init is held before exec) a child mounts
 * the connections and binds their files over the box's, and reports on fd 5 (`ok` or
 * `error ERRNO MESSAGE`, one line); later servers only serve.
 *
 * Why two connections: the views are read through the kernel's page cache with no OPEN
 * (the kernel's no-open mode, connection-wide), so that a read costs no round trip at all;
 * /dev/kmsg must see every open, read, poll and seek (a record per read from the reader's
 * own place, blocking at the end, readable only while a record is ahead: proc-view-kmsg.c),
 * and the ENOSYS the views answer for poll and seek is connection-wide in the kernel too.
 *
 * Why this shape: the connection outlives any server (the shim holds it), so the kernel
 * queues the box's reads while none runs — they wait, none fails with ENOTCONN as with a
 * dead lxcfs — and the next server reads them. A request the dead server had read but not
 * answered is still in the shared page (it is read straight into it): the next server
 * answers it first (a second answer to a request already answered is refused by the
 * kernel with ENOENT, harmless). The node ids are fixed (file i is i + 2) and the texts are
 * made again on demand, so a new server needs no state of the old one but the load average
 * and the kernel log's, which live in the page too. One server per box, nothing host-wide:
 * a crash reaches one box and heals by itself.
 *
 * Freshness: a view's text is made when the kernel asks for the file's attributes (LOOKUP,
 * GETATTR), which it keeps for TEXT_VALID_S; its pages stay in the page cache until then
 * (FUSE_AUTO_INVAL_DATA: a new mtime, given only when the text changed, drops them). So a
 * box reads its views as fast as a cached file, and sees values at most ~1 s old. */
#include "proc-view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

enum
{
  VIEWS_FD = 3, /* the connection of the /proc and /sys views */
  PAGE_FD = 4,
  STATUS_FD = 5,
  KMSG_FD = 6, /* the connection of /dev/kmsg */
  /* The kernel wants a read buffer of at least 8 KiB and header + max_write (4 KiB here). */
  REQ_BUF = 64 * 1024,
  READ_MAX = 128 * 1024, /* a read answered in one piece at most (readahead asks ≤ 128 KiB) */
  CONFIG_MAX = 8192,
  SAMPLE_MS = 1000,
  TEXT_VALID_S = 1, /* how long the kernel keeps a view's attributes, and so its text */
  /* A view's file is sized to its text plus room to grow, in steps (text_size). */
  SIZE_ROOM = 32,
  SIZE_STEP = 64,
};

/* Which connection a request came from (and its answer goes to). */
enum conn
{
  CONN_VIEWS,
  CONN_KMSG,
  CONNS,
};
static const int conn_fd[CONNS] = { [CONN_VIEWS] = VIEWS_FD, [CONN_KMSG] = KMSG_FD };

const struct view_file_info view_files[VIEW_FILES] = {
  [VIEW_MEMINFO] = { "meminfo", "proc/meminfo" },
  [VIEW_CPUINFO] = { "cpuinfo", "proc/cpuinfo" },
  [VIEW_STAT] = { "stat", "proc/stat" },
  [VIEW_LOADAVG] = { "loadavg", "proc/loadavg" },
  [VIEW_SWAPS] = { "swaps", "proc/swaps" },
  [VIEW_DISKSTATS] = { "diskstats", "proc/diskstats" },
  [VIEW_CPU_ONLINE] = { "cpu-online", "sys/devices/system/cpu/online" },
  [VIEW_KMSG] = { "kmsg", "dev/kmsg" },
};

/* The page shared by every server of the box (fd 4, a memfd of the shim's). */
struct view_page
{
  uint32_t busy; /* 1: a request is being read into req or served; 2: answered */
  uint32_t conn; /* enum conn: the connection req was read from */
  struct view_load load;
  struct view_kmsg kmsg; /* with the reads of /dev/kmsg waiting: a new server answers them */
  /* The kernel offered no-open on the views' connection (FUSE_NO_OPEN_SUPPORT, at INIT):
   * their OPEN is answered ENOSYS, after which the kernel opens them without asking. */
  uint32_t views_no_open;
  /* The size the kernel was given for each view's file (text_size). Kept here so that a new
   * server never gives a smaller one than its predecessor did. */
  uint32_t view_size[VIEW_FILES];
  /* At offset 4096 (PROTOCOL.md): what comes before fits the first page. */
  char req[REQ_BUF] __attribute__ ((aligned (4096)));
};
_Static_assert (offsetof (struct view_page, req) == 4096, "the request is at 4096 in the page");

/* The newest text of a view: what its reads are answered from, and its size and mtime. */
struct view_text
{
  char *p;
  size_t len;
  struct timespec made; /* CLOCK_REALTIME when it last changed: the file's mtime */
};

static struct
{
  struct view_config cfg;
  struct view_page *page;
  struct view_text text[VIEW_FILES];
  enum conn conn; /* of the request being served */
  bool conn_live[CONNS];
  uint64_t next_fh;
  int host_kmsg; /* the host's /dev/kmsg, non-blocking, -1: none */
} V = { .host_kmsg = -1 };

static char config_buf[CONFIG_MAX];

static int64_t
boottime_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------ */
/* Config                                                                                 */
/* ------------------------------------------------------------------------------------ */

static int
load_config (const char *path, struct nsbox_error *err)
{
  struct view_config *c = &V.cfg;
  char *line, *save = NULL;

  if (nsbox_read_config_file (path, config_buf, sizeof config_buf, err) < 0)
    return -1;
  for (line = strtok_r (config_buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      static const struct
      {
        const char *key;
        size_t offset;
      } paths[] = {
        { "memory.limit", offsetof (struct view_config, memory_limit) },
        { "memory.usage", offsetof (struct view_config, memory_usage) },
        { "memory.stat", offsetof (struct view_config, memory_stat) },
        { "swap.limit", offsetof (struct view_config, swap_limit) },
        { "swap.usage", offsetof (struct view_config, swap_usage) },
        { "cpuset.cpus", offsetof (struct view_config, cpuset_cpus) },
        { "cpu.max", offsetof (struct view_config, cpu_max) },
        { "cpu.quota", offsetof (struct view_config, cpu_quota) },
        { "cpu.period", offsetof (struct view_config, cpu_period) },
        { "cpu.usage-v1", offsetof (struct view_config, cpu_usage_v1) },
        { "cpu.stat-v2", offsetof (struct view_config, cpu_stat_v2) },
        { "tasks", offsetof (struct view_config, tasks) },
        { "cgroup.name", offsetof (struct view_config, cgroup_name) },
      };
      char *value = strchr (line, ' ');
      bool known = false;

      if (line[0] == '#' || line[0] == '\0')
        continue;
      if (value == NULL)
        return nsbox_fail (err, EINVAL, "'%s': '%s' is not KEY VALUE", path, line);
      *value++ = '\0';
      if (strcmp (line, "file") == 0)
        {
          for (int i = 0; i < VIEW_FILES; i++)
            if (strcmp (value, view_files[i].name) == 0)
              c->files[i] = known = true;
          if (!known)
            return nsbox_fail (err, EINVAL, "'%s': no view of '%s'", path, value);
          continue;
        }
      if (strcmp (line, "swap.with-memory") == 0)
        {
          c->swap_with_memory = strcmp (value, "1") == 0;
          continue;
        }
      for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp (line, paths[i].key) == 0)
          {
            *(const char **) ((char *) c + paths[i].offset) = value;
            known = true;
          }
      if (!known)
        return nsbox_fail (err, EINVAL, "'%s': unknown key '%s'", path, line);
    }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* FUSE                                                                                   */
/* ------------------------------------------------------------------------------------ */

/* An answer to request `unique` of connection `c`. */
static void
reply_on (enum conn c, uint64_t unique, int error, const void *data, size_t len)
{
  struct fuse_out_header out = { .len = sizeof out + (error ? 0 : len), .error = -error, .unique = unique };
  struct iovec iov[2] = { { &out, sizeof out }, { (void *) data, error ? 0 : len } };

  /* ENOENT: the request was answered already (by a server before us) or interrupted. */
  while (writev (conn_fd[c], iov, data && !error && len ? 2 : 1) < 0 && errno == EINTR)
    ;
}

/* An answer to the request being served, on the connection it came from. */
static void
reply (uint64_t unique, int error, const void *data, size_t len)
{
  reply_on (V.conn, unique, error, data, len);
}

/* For proc-view-kmsg.c. What it answers and tells is /dev/kmsg's, so it goes to /dev/kmsg's
 * connection whatever is being served: a waiting read is answered, and a poller told, when
 * the host's log grows (the main loop) as well as at a request. */
void
view_kmsg_reply (uint64_t unique, int error, const void *data, size_t len)
{
  reply_on (CONN_KMSG, unique, error, data, len);
}

void
view_kmsg_notify (int code, const void *data, size_t len)
{
  struct fuse_out_header out = { .len = (uint32_t) (sizeof out + len), .error = code, .unique = 0 };
  struct iovec iov[2] = { { &out, sizeof out }, { (void *) data, len } };

  if (writev (KMSG_FD, iov, 2) < 0)
    dprintf (2, "nsbox-proc-view: notify %d: %s\n", code, strerror (errno));
}

/* The file of a node on the connection being served (kmsg on its own, the views on theirs),
 * -1 for none. */
static int
file_of (uint64_t nodeid)
{
  int which = nodeid >= 2 && nodeid < 2 + VIEW_FILES ? (int) (nodeid - 2) : -1;

  if (which < 0 || !V.cfg.files[which] || (which == VIEW_KMSG) != (V.conn == CONN_KMSG))
    return -1;
  return which;
}

/* The size of a view's file for a text of `len` bytes. Why a file's size is not its text's:
 * the kernel cannot change a cached file's size and its pages at once. It takes the new size
 * first and drops the old pages after, and a read(2) or sendfile(2) that took an old page a
 * moment before copies as much of it as the new size says: the old text cut, or padded with
 * NULs past its end (seen by two readers of a /proc/loadavg whose length changed). So a
 * view's size stays put while its text changes, and the text is padded to it (pad_text). It
 * grows, by a step with room to spare, only when a text outgrows it, and shrinks only when a
 * text fits in half of it (a box's CPUs cut by a limit); those moments keep the window.
 * /sys/devices/system/cpu/online is never padded: glibc's parser (sysconf, get_nprocs)
 * rejects a space in it, and its text changes only with the box's CPU limit. */
static size_t
text_size (int which, size_t len)
{
  uint32_t *size = &V.page->view_size[which];
  size_t fit = (len + SIZE_ROOM + SIZE_STEP - 1) / SIZE_STEP * SIZE_STEP;

  if (which == VIEW_CPU_ONLINE || len == 0)
    return len;
  if (*size < len || *size > 2 * fit)
    *size = (uint32_t) fit;
  return *size;
}

/* A text padded to `size` bytes with spaces at the end of its last line that is not blank
 * (before its newline): whitespace, which every parser of these files splits fields on, and
 * never a NUL or a line of its own. */
static int
pad_text (char **p, size_t len, size_t size)
{
  size_t end = len;
  char *grown;

  if (size == len)
    return 0;
  grown = realloc (*p, size);
  if (grown == NULL)
    return -1;
  while (end > 0 && grown[end - 1] == '\n')
    end--;
  if (end == 0)
    end = len; /* no line that is not blank: after them all */
  memmove (grown + end + (size - len), grown + end, len - end);
  memset (grown + end, ' ', size - len);
  *p = grown;
  return 0;
}

/* The text of a view made again. The mtime moves only when the text changed: the kernel
 * then drops the pages it cached (FUSE_AUTO_INVAL_DATA), and keeps them otherwise. A text
 * that cannot be made leaves the last one; NULL when there is none. */
static const struct view_text *
text_refresh (int which)
{
  struct view_text *t = &V.text[which];
  char *p;
  size_t len, size;

  if (view_render (&V.cfg, &V.page->load, (enum view_file) which, &p, &len) < 0)
    return t->p ? t : NULL;
  size = text_size (which, len);
  if (pad_text (&p, len, size) < 0)
    {
      free (p);
      return t->p ? t : NULL;
    }
  len = size;
  if (t->p && t->len == len && memcmp (t->p, p, len) == 0)
    {
      free (p);
      return t;
    }
  free (t->p);
  t->p = p;
  t->len = len;
  clock_gettime (CLOCK_REALTIME, &t->made);
  return t;
}

/* A node's attributes; a view's from a text made now, valid TEXT_VALID_S in the kernel. */
static void
fill_attr (uint64_t nodeid, struct fuse_attr *attr, uint64_t *valid)
{
  int which = file_of (nodeid);

  memset (attr, 0, sizeof *attr);
  attr->ino = nodeid;
  attr->mode = nodeid == FUSE_ROOT_ID ? (S_IFDIR | 0555) : which == VIEW_KMSG ? (S_IFREG | 0644) : (S_IFREG | 0444);
  /* The box's root owns them, as root owns /proc's files in it. */
  attr->uid = V.cfg.owner_uid;
  attr->gid = V.cfg.owner_gid;
  attr->nlink = nodeid == FUSE_ROOT_ID ? 2 : 1;
  attr->blksize = 4096;
  *valid = nodeid == FUSE_ROOT_ID ? 3600 : TEXT_VALID_S;
  if (which == VIEW_KMSG)
    {
      /* Not cached: the log grows. */
      attr->size = kmsg_size ();
      *valid = 0;
    }
  else if (which >= 0)
    {
      const struct view_text *t = text_refresh (which);
      if (t)
        {
          attr->size = t->len;
          attr->mtime = attr->ctime = (uint64_t) t->made.tv_sec;
          attr->mtimensec = attr->ctimensec = (uint32_t) t->made.tv_nsec;
        }
    }
}

static void
do_lookup (const struct fuse_in_header *in, const char *name)
{
  struct fuse_entry_out out = { 0 };

  if (in->nodeid != FUSE_ROOT_ID)
    return reply (in->unique, ENOTDIR, NULL, 0);
  for (int i = 0; i < VIEW_FILES; i++)
    if (file_of ((uint64_t) i + 2) == i && strcmp (name, view_files[i].name) == 0)
      {
        /* The names never change: kept for an hour (the binds pin them anyway). */
        out.nodeid = (uint64_t) i + 2;
        out.entry_valid = 3600;
        fill_attr (out.nodeid, &out.attr, &out.attr_valid);
        return reply (in->unique, 0, &out, sizeof out);
      }
  reply (in->unique, ENOENT, NULL, 0);
}

static void
do_getattr (const struct fuse_in_header *in, const struct fuse_getattr_in *arg)
{
  struct fuse_attr_out out = { 0 };

  if (in->nodeid != FUSE_ROOT_ID && file_of (in->nodeid) < 0)
    return reply (in->unique, ENOENT, NULL, 0);
  if (file_of (in->nodeid) == VIEW_KMSG && (arg->getattr_flags & FUSE_GETATTR_FH))
    kmsg_fuse_seek_end (&V.page->kmsg, arg->fh);
  fill_attr (in->nodeid, &out.attr, &out.attr_valid);
  reply (in->unique, 0, &out, sizeof out);
}

static void
do_open (const struct fuse_in_header *in, const struct fuse_open_in *arg)
{
  int which = file_of (in->nodeid);
  struct fuse_open_out out = { .open_flags = FOPEN_DIRECT_IO };

  if (which < 0)
    return reply (in->unique, in->nodeid == FUSE_ROOT_ID ? EISDIR : ENOENT, NULL, 0);
  if (which != VIEW_KMSG && (arg->flags & O_ACCMODE) != O_RDONLY)
    return reply (in->unique, EACCES, NULL, 0);
  if (which != VIEW_KMSG)
    {
      /* The kernel opens a view by itself from now on (no OPEN, no RELEASE). A kernel
       * without no-open: reads through the page cache all the same. */
      if (V.page->views_no_open)
        return reply (in->unique, ENOSYS, NULL, 0);
      out.open_flags = FOPEN_KEEP_CACHE;
      return reply (in->unique, 0, &out, sizeof out);
    }
  /* Unique across servers of the box: the time in the high bits, a counter below. */
  out.fh = ((uint64_t) boottime_ms () << 20) | (++V.next_fh & 0xfffff);
  if ((arg->flags & O_ACCMODE) != O_WRONLY)
    kmsg_fuse_open (&V.page->kmsg, out.fh);
  reply (in->unique, 0, &out, sizeof out);
}

static void
do_read (const struct fuse_in_header *in, const struct fuse_read_in *arg)
{
  int which = file_of (in->nodeid);
  const struct view_text *t;
  size_t size = arg->size < READ_MAX ? arg->size : READ_MAX;

  if (which < 0)
    return reply (in->unique, EBADF, NULL, 0);
  if (which == VIEW_KMSG)
    return kmsg_fuse_read (&V.page->kmsg, in, arg);
  /* The pages of the text whose size the kernel was last given (a server that has none
   * yet, just started, makes one: it dropped the kernel's attributes at its start, so the
   * size comes from it again). */
  t = V.text[which].p ? &V.text[which] : text_refresh (which);
  if (t == NULL)
    return reply (in->unique, EIO, NULL, 0);
  if (arg->offset >= t->len)
    return reply (in->unique, 0, NULL, 0);
  if (size > t->len - arg->offset)
    size = t->len - arg->offset;
  reply (in->unique, 0, t->p + arg->offset, size);
}

static void
do_init (const struct fuse_in_header *in, const struct fuse_init_in *arg)
{
  struct fuse_init_out out = { 0 };
  size_t len = sizeof out;

  if (arg->major != FUSE_KERNEL_VERSION)
    return reply (in->unique, EPROTO, NULL, 0);
  out.major = FUSE_KERNEL_VERSION;
  out.minor = arg->minor < FUSE_KERNEL_MINOR_VERSION ? arg->minor : FUSE_KERNEL_MINOR_VERSION;
  out.max_readahead = arg->max_readahead;
  out.max_background = 16;
  out.congestion_threshold = 12;
  out.max_write = 4096;
  out.time_gran = 1;
  if (V.conn == CONN_KMSG)
    out.flags = arg->flags & FUSE_ATOMIC_O_TRUNC; /* O_TRUNC comes with the open, no setattr */
  else
    {
      /* A new mtime drops the cached pages of a view (its text changed). */
      out.flags = arg->flags & FUSE_AUTO_INVAL_DATA;
      V.page->views_no_open = (arg->flags & FUSE_NO_OPEN_SUPPORT) != 0;
    }
  if (out.minor < 23)
    len = FUSE_COMPAT_22_INIT_OUT_SIZE;
  reply (in->unique, 0, &out, len);
}

/* One request, as read into the page. */
static void
serve (const char *buf, size_t len)
{
  const struct fuse_in_header *in = (const void *) buf;
  const void *arg = buf + sizeof *in;

  if (len < sizeof *in || in->len > len)
    return;
  switch (in->opcode)
    {
    case FUSE_INIT:
      return do_init (in, arg);
    case FUSE_LOOKUP:
      if (in->len <= sizeof *in || buf[in->len - 1] != '\0')
        return reply (in->unique, EINVAL, NULL, 0);
      return do_lookup (in, arg);
    case FUSE_GETATTR:
      return do_getattr (in, arg);
    case FUSE_OPEN:
      return do_open (in, arg);
    case FUSE_READ:
      return do_read (in, arg);
    case FUSE_RELEASE:
      /* A view's only with a kernel without no-open: nothing kept for it. */
      if (file_of (in->nodeid) == VIEW_KMSG)
        kmsg_fuse_release (&V.page->kmsg, ((const struct fuse_release_in *) arg)->fh);
      return reply (in->unique, 0, NULL, 0);
    case FUSE_FLUSH:
      /* Nothing to flush: ENOSYS tells the kernel to stop asking (one round trip less per close). */
      return reply (in->unique, ENOSYS, NULL, 0);
    case FUSE_WRITE:
      if (file_of (in->nodeid) != VIEW_KMSG)
        return reply (in->unique, EACCES, NULL, 0);
      return kmsg_fuse_write (&V.page->kmsg, in, arg);
    case FUSE_POLL:
    case FUSE_LSEEK:
      /* /dev/kmsg's own (readable while a record is ahead of its reader; SEEK_DATA at 0).
       * A view's: ENOSYS, as a view's connection is not /dev/kmsg's. The kernel then stops
       * asking for the views' files and answers itself what a view would have: always
       * readable (DEFAULT_POLLMASK), SEEK_DATA/SEEK_HOLE from the size the last GETATTR
       * gave (the text's length) — the same answers, and no round trip after the first. */
      if (file_of (in->nodeid) != VIEW_KMSG)
        return reply (in->unique, ENOSYS, NULL, 0);
      if (in->opcode == FUSE_POLL)
        return kmsg_fuse_poll (&V.page->kmsg, in, arg);
      return kmsg_fuse_lseek (&V.page->kmsg, in, arg);
    case FUSE_SETATTR:
      {
        /* `echo > /dev/kmsg` truncates: nothing to do; the attributes as they are. */
        struct fuse_attr_out out = { 0 };
        if (file_of (in->nodeid) != VIEW_KMSG)
          return reply (in->unique, EACCES, NULL, 0);
        fill_attr (in->nodeid, &out.attr, &out.attr_valid);
        return reply (in->unique, 0, &out, sizeof out);
      }
    case FUSE_INTERRUPT:
      /* Only /dev/kmsg's reads wait; a view's request is answered as it comes. */
      if (V.conn == CONN_KMSG)
        kmsg_wake (&V.page->kmsg, ((const struct fuse_interrupt_in *) arg)->unique);
      return; /* no answer is expected */
    case FUSE_STATFS:
      {
        struct fuse_statfs_out out = { .st = { .bsize = 4096, .namelen = 255, .frsize = 4096 } };
        return reply (in->unique, 0, &out, sizeof out);
      }
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
      return; /* no answer is expected */
    case FUSE_DESTROY:
      return reply (in->unique, 0, NULL, 0);
    default:
      return reply (in->unique, ENOSYS, NULL, 0);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Main                                                                                   */
/* ------------------------------------------------------------------------------------ */

static int
parse_args (int argc, char **argv, bool *mount, struct nsbox_error *err)
{
  const char *config = NULL;
  long long n;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--mount") == 0)
        *mount = true;
      else if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
        config = argv[++i];
      else if (strcmp (argv[i], "--init-pid") == 0 && i + 1 < argc
               && nsbox_parse_long (argv[i + 1], 1, INT32_MAX, &n) == 0)
        V.cfg.init_pid = (pid_t) n, i++;
      else if (strcmp (argv[i], "--started-boottime-ns") == 0 && i + 1 < argc
               && nsbox_parse_long (argv[i + 1], 0, INT64_MAX, &n) == 0)
        V.cfg.started_boottime_ns = n, i++;
      else
        return nsbox_fail (err, EINVAL, "bad argument '%s'", argv[i]);
    }
  if (!config || V.cfg.init_pid == 0)
    return nsbox_fail (err, EINVAL,
                       "usage: nsbox-proc-view --config FILE --init-pid PID "
                       "[--started-boottime-ns NS] [--mount]");
  return load_config (config, err);
}

/* The box root's block device (its disk image's loop device), for diskstats. */
static void
find_disk (void)
{
  char path[64];
  struct stat st;

  snprintf (path, sizeof path, "/proc/%d/root", (int) V.cfg.init_pid);
  if (stat (path, &st) == 0 && major (st.st_dev) != 0)
    V.cfg.disk_dev_major = major (st.st_dev), V.cfg.disk_dev_minor = minor (st.st_dev);
}

/* The box's root as the host sees it (the first line of the init's uid_map/gid_map). */
static uint32_t
box_root (const char *map)
{
  char path[64], buf[256];
  unsigned long inside, outside;

  snprintf (path, sizeof path, "/proc/%d/%s", (int) V.cfg.init_pid, map);
  cleanup_fd int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof buf - 1) : -1;
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return sscanf (buf, "%lu %lu", &inside, &outside) == 2 && inside == 0 ? (uint32_t) outside : 0;
}

/* --mount: a child mounts (its lookups need us serving), then says how it went on fd 5. */
static pid_t
mount_in_child (void)
{
  pid_t pid = fork ();

  if (pid == 0)
    {
      struct nsbox_error err = { 0 };
      char line[sizeof err.msg + 32];
      int n;

      if (view_mount (&V.cfg, VIEWS_FD, KMSG_FD, &err) == 0)
        n = snprintf (line, sizeof line, "ok\n");
      else
        n = snprintf (line, sizeof line, "error %d %s\n", err.errnum, err.msg);
      nsbox_write_all (STATUS_FD, line, (size_t) n);
      _exit (0);
    }
  if (pid < 0)
    dprintf (STATUS_FD, "error %d fork: %s\n", errno, strerror (errno));
  close (STATUS_FD);
  return pid;
}

/* A new server: the kernel may hold pages and a size of texts the dead server made, which
 * this one has not. Their attributes are dropped: the next read asks for them again, and the
 * new text's mtime makes the kernel drop the pages itself. Not the pages from here (offset
 * -1): that waits for pages locked under reads only this server can answer. */
static void
forget_cached_views (void)
{
  V.conn = CONN_VIEWS;
  for (int i = 0; i < VIEW_FILES; i++)
    {
      struct
      {
        struct fuse_out_header h;
        struct fuse_notify_inval_inode_out inval;
      } msg = { { sizeof msg, FUSE_NOTIFY_INVAL_INODE, 0 }, { (uint64_t) i + 2, -1, 0 } };

      /* ENOENT: the kernel has no such inode cached; nothing to drop. */
      if (file_of ((uint64_t) i + 2) == i && write (VIEWS_FD, &msg, sizeof msg) < 0 && errno != ENOENT)
        dprintf (2, "nsbox-proc-view: drop the cached %s: %s\n", view_files[i].name, strerror (errno));
    }
}

/* Reads one request of connection c and serves it; -1 when the server must end. */
static int
take_request (enum conn c, bool mounting)
{
  ssize_t n;

  /* Received straight into the page: a server killed from here on leaves the request to
   * the next one. The header is cleared first so that a stale one is never served. */
  V.conn = c;
  V.page->conn = c;
  memset (V.page->req, 0, sizeof (struct fuse_in_header));
  V.page->busy = 1;
  n = read (conn_fd[c], V.page->req, sizeof V.page->req);
  if (n < 0)
    {
      V.page->busy = 0;
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
        return 0;
      /* Not mounted yet (the first server's child is at it): the connection has no device
       * until then. */
      if (errno == EPERM && mounting)
        {
          usleep (1000);
          return 0;
        }
      /* Unmounted (the box is gone), or never mounted (no file of it was bound): nothing
       * more comes from it. */
      if (errno == ENODEV || errno == EPERM)
        {
          V.conn_live[c] = false;
          return 0;
        }
      dprintf (2, "nsbox-proc-view: read the FUSE connection: %s\n", strerror (errno));
      return -1;
    }
  serve (V.page->req, (size_t) n);
  V.page->busy = 2;
  return 0;
}

/* `nsbox-proc-view --attribute PIDS`: host /dev/kmsg records on stdin, one a line, judged
 * as the server judges the host's (those pids taken as the box's), the box's records on
 * stdout — to replay a recorded report that cannot be provoked safely (a hung task). */
static int
attribute_only (const char *pids)
{
  static struct view_kmsg k;
  static char line[8192];

  V.cfg.cgroup_name = "nsbox-attribute";
  V.cfg.attribute_pids = pids;
  kmsg_log_to (1);
  while (fgets (line, sizeof line, stdin))
    kmsg_host_record (&V.cfg, &k, line);
  return 0;
}

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };
  bool mount = false;
  pid_t mounter = -1;
  struct pollfd pfd[CONNS + 1];

  if (argc == 3 && strcmp (argv[1], "--attribute") == 0)
    return attribute_only (argv[2]);

  /* One per box: small and steady. The heap gives back what is freed at its top at once,
   * and a big buffer (a large host's cpuinfo) is mapped for its use alone. */
  mallopt (M_TOP_PAD, 0);
  mallopt (M_TRIM_THRESHOLD, 16 * 1024);
  mallopt (M_MMAP_THRESHOLD, 32 * 1024);
  if (parse_args (argc, argv, &mount, &err) < 0)
    {
      dprintf (2, "nsbox-proc-view: %s\n", err.msg);
      if (mount)
        dprintf (STATUS_FD, "error %d %s\n", err.errnum, err.msg);
      return 2;
    }
  V.page = mmap (NULL, sizeof *V.page, PROT_READ | PROT_WRITE, MAP_SHARED, PAGE_FD, 0);
  if (V.page == MAP_FAILED)
    {
      dprintf (2, "nsbox-proc-view: mmap the shared page: %s\n", strerror (errno));
      if (mount)
        dprintf (STATUS_FD, "error %d mmap the shared page\n", errno);
      return 1;
    }
  find_disk ();
  V.cfg.owner_uid = box_root ("uid_map");
  V.cfg.owner_gid = box_root ("gid_map");
  for (int i = 0; i < VIEW_FILES; i++)
    if (V.cfg.files[i])
      V.conn_live[i == VIEW_KMSG ? CONN_KMSG : CONN_VIEWS] = true;
  if (V.cfg.files[VIEW_KMSG])
    {
      if (kmsg_open_log (V.cfg.started_boottime_ns, mount) < 0)
        dprintf (2, "nsbox-proc-view: open kmsg.log: %s\n", strerror (errno));
      V.host_kmsg = open ("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      /* The first server starts at the host's present: older lines are not the box's. */
      if (V.host_kmsg >= 0 && !V.page->kmsg.host_seq_seen)
        lseek (V.host_kmsg, 0, SEEK_END), V.page->kmsg.host_seq_seen = 0;
    }
  if (mount)
    mounter = mount_in_child ();
  else
    forget_cached_views ();
  /* What the dead server read and did not answer: answered first. */
  if (V.page->busy == 1)
    {
      V.conn = V.page->conn == CONN_KMSG ? CONN_KMSG : CONN_VIEWS;
      serve (V.page->req, ((struct fuse_in_header *) V.page->req)->len);
    }

  for (;;)
    {
      int64_t now = boottime_ms ();

      if (mounter > 0 && waitpid (mounter, NULL, WNOHANG) != 0)
        mounter = -1;
      if (now - V.page->load.sampled_ms >= SAMPLE_MS)
        view_load_sample (&V.cfg, &V.page->load);
      for (int c = 0; c < CONNS; c++)
        pfd[c] = (struct pollfd){ .fd = V.conn_live[c] ? conn_fd[c] : -1, .events = POLLIN };
      pfd[CONNS] = (struct pollfd){ .fd = V.host_kmsg, .events = POLLIN };
      if (!V.conn_live[CONN_VIEWS] && !V.conn_live[CONN_KMSG])
        return 0; /* unmounted: the box is gone */
      if (poll (pfd, CONNS + 1, SAMPLE_MS) <= 0)
        continue;
      if (pfd[CONNS].revents)
        {
          uint64_t before = kmsg_size ();
          kmsg_follow_host (&V.cfg, &V.page->kmsg, V.host_kmsg);
          /* Its waiting reads and pollers: answered and told on /dev/kmsg's connection. */
          if (kmsg_size () != before)
            kmsg_wake (&V.page->kmsg, 0);
        }
      for (int c = 0; c < CONNS; c++)
        if (pfd[c].revents && take_request ((enum conn) c, mounter > 0) < 0)
          return 1;
    }
}
