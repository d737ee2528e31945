/* nsbox-proc-view: a box's own /proc/meminfo, cpuinfo, stat, loadavg, swaps, diskstats and
 * /sys/devices/system/cpu/online (native/PROTOCOL.md §2, "/proc views").
 *
 *   nsbox-proc-view --config FILE --init-pid PID --started-boottime-ns NS [--mount]
 *
 * Started, and started again when it dies, by the box's shim with fd 3 = the box's FUSE
 * connection (/dev/fuse, opened and kept by the shim) and fd 4 = a page shared by every
 * server of the box. With `--mount` (the first start, while the init is held before exec)
 * a child mounts the connection and binds its files over the box's, and reports on fd 5
 * (`ok` or `error ERRNO MESSAGE`, one line); later servers only serve.
 *
 * Why this shape: the connection outlives any server (the shim holds it), so the kernel
 * queues the box's reads while none runs — they wait, none fails with ENOTCONN as with a
 * dead lxcfs — and the next server reads them. A request the dead server had read but not
 * answered is still in the shared page (it is read straight into it): the next server
 * answers it first (a second answer to a request already answered is refused by the
 * kernel with ENOENT, harmless). The node ids are fixed (file i is i + 2) and the text is
 * made at the first read of an open file, so a new server needs no state of the old one
 * but the load average, which lives in the page too. One server per box, nothing
 * host-wide: a crash reaches one box and heals by itself. */
#include "proc-view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
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
  FUSE_FD = 3,
  PAGE_FD = 4,
  STATUS_FD = 5,
  /* The kernel wants a read buffer of at least 8 KiB and header + max_write (4 KiB here). */
  REQ_BUF = 64 * 1024,
  READ_MAX = 32 * 1024, /* a read answered in one piece at most */
  OPEN_SLOTS = 32,      /* open files whose text is kept between reads */
  CONFIG_MAX = 8192,
  SAMPLE_MS = 1000,
};

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
  uint32_t n_waiting;
  struct view_load load;
  struct view_kmsg kmsg; /* with the reads of /dev/kmsg waiting: a new server answers them */
  /* At offset 4096 (PROTOCOL.md): what comes before fits the first page. */
  char req[REQ_BUF] __attribute__ ((aligned (4096)));
};
_Static_assert (offsetof (struct view_page, req) == 4096, "the request is at 4096 in the page");

/* The text of an open file, made at its first read. */
struct open_slot
{
  uint64_t fh;
  char *text;
  size_t len;
  bool unread; /* made at open: the first read at offset 0 takes it as it is */
};

static struct
{
  struct view_config cfg;
  struct view_page *page;
  struct open_slot open[OPEN_SLOTS];
  unsigned next_slot;
  uint64_t next_fh;
  size_t last_len[VIEW_FILES]; /* of the newest text made at an open, per file */
  int host_kmsg;                  /* the host's /dev/kmsg, non-blocking, -1: none */
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
  ssize_t len;

  len = nsbox_read_small_file (path, config_buf, sizeof config_buf);
  if (len < 0)
    return nsbox_fail (err, errno, "read '%s'", path);
  if (len == (ssize_t) sizeof config_buf - 1)
    return nsbox_fail (err, EFBIG, "'%s' is larger than %d bytes", path, CONFIG_MAX - 1);
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

static void
reply (uint64_t unique, int error, const void *data, size_t len)
{
  struct fuse_out_header out = { .len = sizeof out + (error ? 0 : len), .error = -error, .unique = unique };
  struct iovec iov[2] = { { &out, sizeof out }, { (void *) data, error ? 0 : len } };

  /* ENOENT: the request was answered already (by a server before us) or interrupted. */
  while (writev (FUSE_FD, iov, data && !error && len ? 2 : 1) < 0 && errno == EINTR)
    ;
}

void
view_reply (uint64_t unique, int error, const void *data, size_t len)
{
  reply (unique, error, data, len);
}

void
view_notify (int code, const void *data, size_t len)
{
  struct fuse_out_header out = { .len = (uint32_t) (sizeof out + len), .error = code, .unique = 0 };
  struct iovec iov[2] = { { &out, sizeof out }, { (void *) data, len } };

  if (writev (FUSE_FD, iov, 2) < 0)
    dprintf (2, "nsbox-proc-view: notify %d: %s\n", code, strerror (errno));
}

static void
fill_attr (uint64_t nodeid, struct fuse_attr *attr)
{
  memset (attr, 0, sizeof *attr);
  attr->ino = nodeid;
  attr->mode = nodeid == FUSE_ROOT_ID ? (S_IFDIR | 0555) : nodeid == VIEW_KMSG + 2 ? (S_IFREG | 0644) : (S_IFREG | 0444);
  /* The box's root owns them, as root owns /proc's files in it. */
  attr->uid = V.cfg.owner_uid;
  attr->gid = V.cfg.owner_gid;
  attr->nlink = nodeid == FUSE_ROOT_ID ? 2 : 1;
  attr->blksize = 4096;
}

static int
file_of (uint64_t nodeid)
{
  return nodeid >= 2 && nodeid < 2 + VIEW_FILES && V.cfg.files[nodeid - 2] ? (int) (nodeid - 2) : -1;
}

/* A file's size: the length of the newest text made at an open (made now if none was). The
 * kernel's splice path reads up to the size (a size above a text's end is cut down at the
 * short read there; one below would cut the text), and asks for it at about every open:
 * not worth a second text each time. */
static uint64_t
size_of (uint64_t nodeid)
{
  int which = file_of (nodeid);
  char *text;
  size_t len = 0;

  if (which == VIEW_KMSG)
    return kmsg_size ();
  if (which < 0)
    return 0;
  if (V.last_len[which] == 0 && view_render (&V.cfg, &V.page->load, (enum view_file) which, &text, &len) == 0)
    {
      free (text);
      V.last_len[which] = len;
    }
  return V.last_len[which];
}

static void
do_lookup (const struct fuse_in_header *in, const char *name)
{
  struct fuse_entry_out out = { 0 };

  if (in->nodeid != FUSE_ROOT_ID)
    return reply (in->unique, ENOTDIR, NULL, 0);
  for (int i = 0; i < VIEW_FILES; i++)
    if (V.cfg.files[i] && strcmp (name, view_files[i].name) == 0)
      {
        out.nodeid = (uint64_t) i + 2;
        out.entry_valid = 3600;
        fill_attr (out.nodeid, &out.attr);
        out.attr.size = size_of (out.nodeid);
        return reply (in->unique, 0, &out, sizeof out);
      }
  reply (in->unique, ENOENT, NULL, 0);
}

static void
do_getattr (const struct fuse_in_header *in, const struct fuse_getattr_in *arg)
{
  /* Not cached: the size changes with the text. */
  struct fuse_attr_out out = { .attr_valid = 0 };

  if (in->nodeid != FUSE_ROOT_ID && file_of (in->nodeid) < 0)
    return reply (in->unique, ENOENT, NULL, 0);
  if (file_of (in->nodeid) == VIEW_KMSG && (arg->getattr_flags & FUSE_GETATTR_FH))
    kmsg_fuse_seek_end (&V.page->kmsg, arg->fh);
  fill_attr (in->nodeid, &out.attr);
  out.attr.size = size_of (in->nodeid);
  reply (in->unique, 0, &out, sizeof out);
}

static void
slot_drop (struct open_slot *slot)
{
  free (slot->text);
  *slot = (struct open_slot){ 0 };
}

static struct open_slot *slot_find (uint64_t fh);

/* The text of a file being opened, made now, and the file's size in the kernel made at
 * least its length. Why: reads go to us (direct I/O), but splice and sendfile (busybox
 * `cat`) read through the page cache, up to the inode's size — 0 for a /proc-like file, so
 * they would see nothing. Storing the text (FUSE_NOTIFY_STORE) grows the size to its
 * length; a longer size left from an earlier, longer text is cut down by the kernel at the
 * short read that ends this one. */
static void
text_at_open (uint64_t nodeid, uint64_t fh)
{
  struct open_slot *slot = &V.open[V.next_slot++ % OPEN_SLOTS];
  struct
  {
    struct fuse_out_header h;
    struct fuse_notify_store_out store;
  } msg = { { sizeof msg, FUSE_NOTIFY_STORE, 0 }, { nodeid, 0, 0, 0 } };
  struct iovec iov[2] = { { &msg, sizeof msg } };
  char *text;
  size_t len;

  slot_drop (slot);
  if (view_render (&V.cfg, &V.page->load, (enum view_file) (nodeid - 2), &text, &len) < 0)
    return;
  *slot = (struct open_slot){ .fh = fh, .text = text, .len = len, .unread = true };
  V.last_len[nodeid - 2] = len;
  /* The whole text (the kernel grows the size only for bytes stored); the pages it fills
   * are dropped again when the open completes (no FOPEN_KEEP_CACHE). */
  msg.store.size = (uint32_t) len;
  msg.h.len = (uint32_t) (sizeof msg + len);
  iov[1] = (struct iovec){ text, len };
  if (len > 0 && writev (FUSE_FD, iov, 2) < 0)
    dprintf (2, "nsbox-proc-view: notify store: %s\n", strerror (errno));
}

static void
do_open (const struct fuse_in_header *in, const struct fuse_open_in *arg)
{
  struct fuse_open_out out = { .open_flags = FOPEN_DIRECT_IO };

  if (file_of (in->nodeid) < 0)
    return reply (in->unique, in->nodeid == FUSE_ROOT_ID ? EISDIR : ENOENT, NULL, 0);
  if ((arg->flags & O_ACCMODE) != O_RDONLY && file_of (in->nodeid) != VIEW_KMSG)
    return reply (in->unique, EACCES, NULL, 0);
  /* Unique across servers of the box: the time in the high bits, a counter below. */
  out.fh = ((uint64_t) boottime_ms () << 20) | (++V.next_fh & 0xfffff);
  if (file_of (in->nodeid) != VIEW_KMSG)
    text_at_open (in->nodeid, out.fh);
  else if ((arg->flags & O_ACCMODE) != O_WRONLY)
    kmsg_fuse_open (&V.page->kmsg, out.fh);
  reply (in->unique, 0, &out, sizeof out);
}

static struct open_slot *
slot_find (uint64_t fh)
{
  for (int i = 0; i < OPEN_SLOTS; i++)
    if (V.open[i].text && V.open[i].fh == fh)
      return &V.open[i];
  return NULL;
}

static void
do_read (const struct fuse_in_header *in, const struct fuse_read_in *arg)
{
  int which = file_of (in->nodeid);
  struct open_slot *slot;
  size_t size = arg->size < READ_MAX ? arg->size : READ_MAX;

  if (which < 0)
    return reply (in->unique, EBADF, NULL, 0);
  if (which == VIEW_KMSG)
    return kmsg_fuse_read (&V.page->kmsg, in, arg);
  slot = slot_find (arg->fh);
  /* Made at the first read of an open file (or the first this server sees: the text of a
   * file opened under a dead server is made again), kept until it is closed, so that
   * reads in pieces see one text. */
  if (slot == NULL || (arg->offset == 0 && !slot->unread))
    {
      char *text;
      size_t len;

      if (slot == NULL)
        {
          slot = &V.open[V.next_slot++ % OPEN_SLOTS];
          slot_drop (slot);
        }
      if (view_render (&V.cfg, &V.page->load, which, &text, &len) < 0)
        {
          slot_drop (slot);
          return reply (in->unique, EIO, NULL, 0);
        }
      free (slot->text);
      *slot = (struct open_slot){ .fh = arg->fh, .text = text, .len = len };
    }
  slot->unread = false;
  if (arg->offset >= slot->len)
    return reply (in->unique, 0, NULL, 0);
  if (size > slot->len - arg->offset)
    size = slot->len - arg->offset;
  reply (in->unique, 0, slot->text + arg->offset, size);
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
  out.flags = arg->flags & FUSE_ATOMIC_O_TRUNC; /* O_TRUNC comes with the open, no setattr */
  out.time_gran = 1;
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
      {
        struct open_slot *slot = slot_find (((const struct fuse_release_in *) arg)->fh);
        if (slot)
          slot_drop (slot);
        if (file_of (in->nodeid) == VIEW_KMSG)
          kmsg_fuse_release (&V.page->kmsg, ((const struct fuse_release_in *) arg)->fh);
        return reply (in->unique, 0, NULL, 0);
      }
    case FUSE_FLUSH:
      /* Nothing to flush: ENOSYS tells the kernel to stop asking (one round trip less per close). */
      return reply (in->unique, ENOSYS, NULL, 0);
    case FUSE_WRITE:
      if (file_of (in->nodeid) != VIEW_KMSG)
        return reply (in->unique, EACCES, NULL, 0);
      return kmsg_fuse_write (&V.page->kmsg, in, arg);
    case FUSE_POLL:
      {
        /* A view's text is always there; /dev/kmsg when a record is ahead of its reader. No
         * ENOSYS: the kernel would stop asking for every file of the connection. */
        struct fuse_poll_out out = { .revents = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM };
        if (file_of (in->nodeid) == VIEW_KMSG)
          return kmsg_fuse_poll (&V.page->kmsg, in, arg);
        return reply (in->unique, 0, &out, sizeof out);
      }
    case FUSE_LSEEK:
      {
        /* SEEK_DATA/SEEK_HOLE (the kernel does SEEK_SET/END itself); not ENOSYS, for the
         * same reason. A view's text is all data. */
        const struct fuse_lseek_in *seek = arg;
        struct fuse_lseek_out out = { .offset = seek->whence == SEEK_DATA ? seek->offset : size_of (in->nodeid) };
        if (file_of (in->nodeid) == VIEW_KMSG)
          return kmsg_fuse_lseek (&V.page->kmsg, in, arg);
        if (file_of (in->nodeid) < 0 || seek->offset >= size_of (in->nodeid))
          return reply (in->unique, ENXIO, NULL, 0);
        return reply (in->unique, 0, &out, sizeof out);
      }
    case FUSE_SETATTR:
      {
        /* `echo > /dev/kmsg` truncates: nothing to do; the attributes as they are. */
        struct fuse_attr_out out = { 0 };
        if (file_of (in->nodeid) < 0)
          return reply (in->unique, EACCES, NULL, 0);
        fill_attr (in->nodeid, &out.attr);
        out.attr.size = size_of (in->nodeid);
        return reply (in->unique, 0, &out, sizeof out);
      }
    case FUSE_INTERRUPT:
      return kmsg_wake (&V.page->kmsg, ((const struct fuse_interrupt_in *) arg)->unique);
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

      if (view_mount (&V.cfg, FUSE_FD, &err) == 0)
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

int
main (int argc, char **argv)
{
  struct nsbox_error err = { 0 };
  bool mount = false;
  pid_t mounter = -1;
  struct pollfd pfd[2] = { { .fd = FUSE_FD, .events = POLLIN }, { .fd = -1, .events = POLLIN } };

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
  /* What the dead server read and did not answer: answered first. */
  if (V.page->busy == 1)
    serve (V.page->req, ((struct fuse_in_header *) V.page->req)->len);

  for (;;)
    {
      int64_t now = boottime_ms ();
      ssize_t n;

      if (mounter > 0 && waitpid (mounter, NULL, WNOHANG) != 0)
        mounter = -1;
      if (now - V.page->load.sampled_ms >= SAMPLE_MS)
        view_load_sample (&V.cfg, &V.page->load);
      pfd[1].fd = V.host_kmsg;
      if (poll (pfd, 2, SAMPLE_MS) <= 0)
        continue;
      if (pfd[1].revents)
        {
          uint64_t before = kmsg_size ();
          kmsg_follow_host (&V.cfg, &V.page->kmsg, V.host_kmsg);
          if (kmsg_size () != before)
            kmsg_wake (&V.page->kmsg, 0);
        }
      if (!(pfd[0].revents & POLLIN))
        continue;
      /* Received straight into the page: a server killed from here on leaves the request
       * to the next one. The header is cleared first so that a stale one is never served. */
      memset (V.page->req, 0, sizeof (struct fuse_in_header));
      V.page->busy = 1;
      n = read (FUSE_FD, V.page->req, sizeof V.page->req);
      if (n < 0)
        {
          V.page->busy = 0;
          if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
            continue;
          /* Not mounted yet (the first server's child is at it): the connection has no
           * device until then. */
          if (errno == EPERM && mounter > 0)
            {
              usleep (1000);
              continue;
            }
          if (errno == ENODEV) /* unmounted: the box is gone */
            return 0;
          dprintf (2, "nsbox-proc-view: read the FUSE connection: %s\n", strerror (errno));
          return 1;
        }
      serve (V.page->req, (size_t) n);
      V.page->busy = 2;
    }
}
