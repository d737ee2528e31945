/* The box's own kernel log (issue 15, 3f). Linux has no syslog namespace: a box either reads
 * the host's log or nothing. Here each box has a log of its own, `kmsg.log` in its box dir,
 * in /dev/kmsg's record format (`PRIO,SEQ,TS_USEC,-;MESSAGE\n`), holding:
 *   - the host kernel's lines about the box's own processes, which the server picks from the
 *     host's /dev/kmsg as they come (proc-view-kmsg-host.c): an OOM kill in the box's memory
 *     cgroup with its report, and the reports about a process of the box (segfault, general
 *     protection, trap, hung task, WARNING);
 *   - what the box writes to its /dev/kmsg.
 * Never another line of the host's. The box reads it through its /dev/kmsg (a view, the byte
 * offset of a read is the record's place in the file, so no server keeps a position) and
 * through syslog(2) (nsbox-notify's `syslog` handler reads the same file).
 *
 * The file only grows, up to KMSG_MAX; then new records are dropped (one last record says
 * so): offsets stay valid for every reader. A new boot of the box (the server started with
 * --mount) starts it empty, as a kernel's log starts empty at boot: journald, which reads
 * /dev/kmsg from its start at each boot, would take the last boot's lines for this one's.
 *
 * The box's /dev/kmsg behaves as the kernel's does for what journald and dmesg use: a read
 * gives one record (EINVAL if it does not fit), at the end EAGAIN for a non-blocking reader
 * or waits; poll(2) says POLLIN while a record is ahead of the reader (FUSE_POLL, and
 * FUSE_NOTIFY_POLL when the log grows); lseek(0, SEEK_SET) goes to the first record,
 * SEEK_END after the last, SEEK_DATA after the last SYSLOG_ACTION_CLEAR — no clear empties
 * a box's log, so the first record. A write does not move the reader. */
#include "proc-view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KMSG_FILE "kmsg.log"
#define KMSG_MAX (1 << 20)

static int log_fd = -1;
static uint64_t box_start_usec; /* records count time from the box's start, as its uptime does */
static char line_buf[8192];

int
kmsg_open_log (int64_t started_boottime_ns, bool new_boot)
{
  box_start_usec = started_boottime_ns > 0 ? (uint64_t) started_boottime_ns / 1000 : 0;
  log_fd = open (KMSG_FILE, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (new_boot ? O_TRUNC : 0), 0600);
  return log_fd;
}

void
kmsg_log_to (int fd)
{
  log_fd = fd;
}

int
kmsg_log_fd (void)
{
  return log_fd;
}

/* Appends one record; the text is cut at its first newline. */
void
kmsg_append (struct view_kmsg *k, int prio, uint64_t ts_usec, const char *text, size_t len)
{
  struct stat st;
  int n;
  const char *nl = memchr (text, '\n', len);

  if (log_fd < 0 || fstat (log_fd, &st) < 0 || k->full)
    return;
  if (nl)
    len = (size_t) (nl - text);
  ts_usec = ts_usec > box_start_usec ? ts_usec - box_start_usec : 0;
  if (len > 1000)
    len = 1000;
  if (st.st_size + (off_t) len + 64 > KMSG_MAX)
    {
      static const char full[] = "nsbox: this box's kernel log is full; later messages are dropped";
      k->full = 1;
      text = full, len = sizeof full - 1, prio = 4;
    }
  n = snprintf (line_buf, sizeof line_buf, "%d,%llu,%llu,-;%.*s\n", prio, (unsigned long long) k->seq++,
                (unsigned long long) ts_usec, (int) len, text);
  if (n > 0)
    nsbox_write_all (log_fd, line_buf, (size_t) n);
}

/* Reads what the host's kernel logged since the last call (host_fd non-blocking), keeping
 * the records about the box (proc-view-kmsg-host.c judges each). */
void
kmsg_follow_host (const struct view_config *cfg, struct view_kmsg *k, int host_fd)
{
  static char rec[8192];

  for (;;)
    {
      ssize_t n = read (host_fd, rec, sizeof rec - 1);

      if (n < 0 && errno == EPIPE)
        continue; /* overwritten records: the next read goes on from the oldest left */
      if (n <= 0)
        return;
      rec[n] = '\0';
      kmsg_host_record (cfg, k, rec);
    }
}

/* A write to the box's /dev/kmsg: `<N>text`, as the kernel takes it (facility user, level
 * warning without a prefix; the box may not claim the kernel's facility). */
void
kmsg_box_write (struct view_kmsg *k, const char *data, size_t len)
{
  int prio = (1 << 3) | 4;
  struct timespec ts;

  if (len >= 3 && data[0] == '<')
    {
      char *end;
      long p = strtol (data + 1, &end, 10);
      if (*end == '>' && p >= 0 && p < 1024)
        {
          prio = (int) p;
          if ((prio >> 3) == 0)
            prio |= 1 << 3;
          len -= (size_t) (end + 1 - data);
          data = end + 1;
        }
    }
  while (len > 0 && data[len - 1] == '\n')
    len--;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  kmsg_append (k, prio, (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000, data, len);
}

/* The record at byte `offset` of the log into buf; its length, 0 at the end, -1 if `offset`
 * is not the start of one (or size too small: EINVAL, as /dev/kmsg says). */
ssize_t
kmsg_record_at (uint64_t offset, char *buf, size_t size)
{
  ssize_t n;
  char *nl;

  if (log_fd < 0)
    return 0;
  n = pread (log_fd, buf, size, (off_t) offset);
  if (n <= 0)
    return n < 0 ? -1 : 0;
  nl = memchr (buf, '\n', (size_t) n);
  if (!nl)
    {
      errno = EINVAL;
      return -1;
    }
  return nl - buf + 1;
}

/* The log's size: where a reader opened with SEEK_END starts, and what a blocked reader
 * waits to grow. */
uint64_t
kmsg_size (void)
{
  struct stat st;

  return log_fd >= 0 && fstat (log_fd, &st) == 0 ? (uint64_t) st.st_size : 0;
}

/* ------------------------------------------------------------------------------------ */
/* The box's /dev/kmsg                                                                    */
/* ------------------------------------------------------------------------------------ */

#define N_READERS (sizeof ((struct view_kmsg *) 0)->readers / sizeof ((struct view_kmsg *) 0)->readers[0])
#define N_WAITING (sizeof ((struct view_kmsg *) 0)->waiting / sizeof ((struct view_kmsg *) 0)->waiting[0])

static struct kmsg_reader *
reader_of (struct view_kmsg *k, uint64_t fh)
{
  for (size_t i = 0; i < N_READERS; i++)
    if (k->readers[i].used && k->readers[i].fh == fh)
      return &k->readers[i];
  return NULL;
}

enum
{
  READER_KNOWN = 1,   /* pos and next_off are the reader's */
  READER_UNKNOWN = 2, /* its place is unknown until its next read (an entry taken over) */
};

/* An entry for `fh`: a free one, or else one taken over — one without a poller waiting if
 * there is (a poller's entry lost would not be told when the log grows). A reader whose
 * entry was taken is then an unknown one: its reads go by the file position, its next poll
 * says readable. */
static struct kmsg_reader *
reader_take (struct view_kmsg *k, uint64_t fh, uint32_t state)
{
  struct kmsg_reader *r = NULL;

  for (size_t i = 0; i < N_READERS && !r; i++)
    if (!k->readers[i].used)
      r = &k->readers[i];
  for (size_t i = 0; i < N_READERS && !r; i++)
    {
      struct kmsg_reader *next = &k->readers[k->next_reader++ % N_READERS];
      if (!next->armed)
        r = next;
    }
  if (!r)
    r = &k->readers[k->next_reader++ % N_READERS];
  *r = (struct kmsg_reader){ .fh = fh, .used = state };
  return r;
}

/* A file opened for reading: at the first record, as the kernel's f_pos starts at 0. (One
 * opened to write only — systemd's, every service's logging there — needs no entry.) */
void
kmsg_fuse_open (struct view_kmsg *k, uint64_t fh)
{
  reader_take (k, fh, READER_KNOWN);
}

void
kmsg_fuse_release (struct view_kmsg *k, uint64_t fh)
{
  struct kmsg_reader *r = reader_of (k, fh);

  if (r)
    *r = (struct kmsg_reader){ 0 };
}

/* Where a read or write at file position `off` is in the log. The position the kernel gives
 * is the reader's own unless it moved by something the server did not see: a seek (to 0, or
 * to the end, both real offsets of the log). */
static uint64_t
place_of (const struct kmsg_reader *r, uint64_t off)
{
  return r && r->used == READER_KNOWN && off == r->next_off ? r->pos : off;
}

/* The record at `pos` for a read that came at file position `off`; false when it waits. */
static bool
answer_read (struct view_kmsg *k, uint64_t unique, uint64_t fh, uint64_t pos, uint64_t off, uint32_t size,
             bool nonblock)
{
  static char rec[4096];
  struct kmsg_reader *r = reader_of (k, fh);
  ssize_t n = kmsg_record_at (pos, rec, size < sizeof rec ? size : sizeof rec);

  if (n < 0)
    return view_kmsg_reply (unique, EINVAL, NULL, 0), true;
  if (r)
    r->pos = pos + (uint64_t) n, r->next_off = off + (uint64_t) n, r->used = READER_KNOWN;
  if (n > 0)
    return view_kmsg_reply (unique, 0, rec, (size_t) n), true;
  if (nonblock)
    return view_kmsg_reply (unique, EAGAIN, NULL, 0), true;
  for (size_t i = 0; i < N_WAITING; i++)
    if (k->waiting[i].unique == 0 || k->waiting[i].unique == unique)
      {
        k->waiting[i].fh = fh;
        k->waiting[i].pos = pos;
        k->waiting[i].off = off;
        k->waiting[i].size = size;
        k->waiting[i].unique = unique;
        return false;
      }
  /* Too many readers waiting at once: this one is told to try again. */
  view_kmsg_reply (unique, EAGAIN, NULL, 0);
  return true;
}

void
kmsg_fuse_read (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg)
{
  const struct fuse_read_in *read_in = arg;

  answer_read (k, in->unique, read_in->fh, place_of (reader_of (k, read_in->fh), read_in->offset), read_in->offset,
               read_in->size, (read_in->flags & O_NONBLOCK) != 0);
}

/* A write appends a record; the kernel moves the file position by its length (a FUSE file is
 * not a character device): the reader stays where it was, and knows the new position. */
void
kmsg_fuse_write (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg)
{
  const struct fuse_write_in *write_in = arg;
  struct fuse_write_out out = { .size = write_in->size };
  struct kmsg_reader *r = reader_of (k, write_in->fh);

  if (sizeof *in + sizeof *write_in + write_in->size > in->len)
    return view_kmsg_reply (in->unique, EINVAL, NULL, 0);
  if (r)
    r->pos = place_of (r, write_in->offset), r->next_off = write_in->offset + write_in->size, r->used = READER_KNOWN;
  kmsg_box_write (k, (const char *) (write_in + 1), write_in->size);
  /* Pollers are woken before the write returns: a writer that polls its own fd next (journald
   * does) must find the record ahead of it, not a wakeup still on its way. */
  kmsg_wake (k, 0);
  view_kmsg_reply (in->unique, 0, &out, sizeof out);
}

/* POLLIN while a record is ahead of the reader; a poller that waits (SCHEDULE_NOTIFY) is
 * told when the log grows. */
void
kmsg_fuse_poll (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg)
{
  const struct fuse_poll_in *poll_in = arg;
  struct kmsg_reader *r = reader_of (k, poll_in->fh);
  struct fuse_poll_out out = { 0 };

  if (!r)
    r = reader_take (k, poll_in->fh, READER_UNKNOWN);
  if (r->used == READER_UNKNOWN || r->pos < kmsg_size ())
    out.revents = POLLIN | POLLRDNORM;
  if (poll_in->flags & FUSE_POLL_SCHEDULE_NOTIFY)
    r->kh = poll_in->kh, r->armed = 1;
  view_kmsg_reply (in->unique, 0, &out, sizeof out);
}

/* lseek SEEK_DATA (SEEK_SET and SEEK_END the kernel does itself, from the size). As for the
 * kernel's /dev/kmsg, only offset 0 is taken. */
void
kmsg_fuse_lseek (struct view_kmsg *k, const struct fuse_in_header *in, const void *arg)
{
  const struct fuse_lseek_in *lseek_in = arg;
  struct kmsg_reader *r = reader_of (k, lseek_in->fh);
  struct fuse_lseek_out out = { .offset = 0 };

  if (lseek_in->offset != 0)
    return view_kmsg_reply (in->unique, ESPIPE, NULL, 0);
  if (lseek_in->whence != SEEK_DATA)
    return view_kmsg_reply (in->unique, EINVAL, NULL, 0);
  if (r)
    r->pos = r->next_off = out.offset, r->used = READER_KNOWN;
  view_kmsg_reply (in->unique, 0, &out, sizeof out);
}

/* The kernel asks a file's size with its handle before an lseek SEEK_END (the one case for a
 * direct-I/O file): the reader goes to the end, so that a poll before its next read is
 * answered for where it is. */
void
kmsg_fuse_seek_end (struct view_kmsg *k, uint64_t fh)
{
  struct kmsg_reader *r = reader_of (k, fh);

  if (r)
    r->pos = r->next_off = kmsg_size (), r->used = READER_KNOWN;
}

void
kmsg_wake (struct view_kmsg *k, uint64_t interrupted)
{
  uint64_t size = kmsg_size ();

  for (size_t i = 0; i < N_WAITING; i++)
    {
      uint64_t unique = k->waiting[i].unique;

      if (unique == 0)
        continue;
      if (unique == interrupted)
        {
          k->waiting[i].unique = 0;
          view_kmsg_reply (unique, EINTR, NULL, 0);
        }
      else if (k->waiting[i].pos < size)
        {
          k->waiting[i].unique = 0;
          answer_read (k, unique, k->waiting[i].fh, k->waiting[i].pos, k->waiting[i].off, k->waiting[i].size, true);
        }
    }
  for (size_t i = 0; i < N_READERS; i++)
    {
      struct kmsg_reader *r = &k->readers[i];
      struct fuse_notify_poll_wakeup_out wake = { .kh = r->kh };

      if (!r->used || !r->armed || (r->used == READER_KNOWN && r->pos >= size))
        continue;
      r->armed = 0;
      view_kmsg_notify (FUSE_NOTIFY_POLL, &wake, sizeof wake);
    }
}
