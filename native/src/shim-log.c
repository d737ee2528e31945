/* The box's output: read from its pipe or pty master and appended to console.log, which
 * is rotated at --log-max into console.log.1 … .N (--log-keep). A failing write (ENOSPC,
 * ...) loses that output but never stops the box. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static const char LOG_NAME[] = "console.log";

static void
log_name (char *buf, size_t size, unsigned index)
{
  struct nsbox_buf b = { buf, 0, size, false, false };

  nsbox_buf_str (&b, LOG_NAME);
  if (index > 0)
    {
      nsbox_buf_str (&b, ".");
      nsbox_buf_int (&b, index);
    }
}

int
shim_log_open (struct nsbox_error *err)
{
  struct stat st;

  S.log_fd = open (LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (S.log_fd < 0)
    return nsbox_fail (err, errno, "open '%s/%s'", S.box_dir, LOG_NAME);
  if (fstat (S.log_fd, &st) < 0)
    return nsbox_fail (err, errno, "stat '%s/%s'", S.box_dir, LOG_NAME);
  S.log_size = st.st_size;
  return 0;
}

/* console.log.N-1 → .N, …, console.log → .1, and a new empty console.log. */
static void
log_rotate (void)
{
  char from[32], to[32];

  for (unsigned i = S.log_keep; i >= 2; i--)
    {
      log_name (from, sizeof from, i - 1);
      log_name (to, sizeof to, i);
      rename (from, to);
    }
  if (S.log_keep > 0)
    {
      log_name (to, sizeof to, 1);
      rename (LOG_NAME, to);
    }
  nsbox_close (&S.log_fd);
  S.log_fd = open (LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   0640);
  S.log_size = 0;
}

/* Appends box output to the log, rotating exactly at log_max bytes. */
static void
log_write (const char *data, size_t len)
{
  while (len > 0 && S.log_fd >= 0)
    {
      size_t chunk = len;
      ssize_t n;

      if (S.log_max > 0)
        {
          if (S.log_size >= S.log_max)
            {
              log_rotate ();
              if (S.log_fd < 0)
                return;
            }
          if (chunk > S.log_max - S.log_size)
            chunk = S.log_max - S.log_size;
        }
      n = write (S.log_fd, data, chunk);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      S.log_size += n;
      data += n;
      len -= n;
    }
}

void
shim_output_read (void)
{
  /* A few reads per wakeup keep the loop fair when the box floods. */
  for (int i = 0; i < 8 && S.out_fd >= 0; i++)
    {
      ssize_t n = read (S.out_fd, shim_io_buf, sizeof shim_io_buf);
      if (n > 0)
        {
          log_write (shim_io_buf, n);
          shim_console_output (shim_io_buf, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      /* EOF, or EIO from a pty master once every slave fd is closed (closing it removes it
       * from the epoll set). */
      if (S.terminal)
        S.in_fd = -1; /* the same fd */
      nsbox_close (&S.out_fd);
    }
}
