/* What the shim reports: one JSON line on the ready pipe (PROTOCOL.md §2 step 4), the pid
 * files, and exit.json once the init ended. Files of the box dir (the shim's cwd) are
 * written atomically: a temporary file, then rename. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void
ready_send (const char *line, size_t len)
{
  if (S.ready_fd < 0)
    return;
  /* The starter may be gone already (EPIPE, SIGPIPE is ignored): nothing to do then. */
  nsbox_write_all (S.ready_fd, line, len);
  nsbox_close (&S.ready_fd);
}

void
shim_ready_ok (void)
{
  char line[96];
  struct nsbox_buf b = NSBOX_BUF_FIXED (line);

  nsbox_buf_str (&b, "{\"ok\":true,\"pid\":");
  nsbox_buf_int (&b, S.init_pid);
  nsbox_buf_str (&b, ",\"shimPid\":");
  nsbox_buf_int (&b, S.self);
  nsbox_buf_str (&b, "}\n");
  ready_send (line, b.len);
}

void
shim_ready_error (const char *step, int errnum, const char *message)
{
  static char line[RESULT_MAX * 6 + 128];
  struct nsbox_buf b = NSBOX_BUF_FIXED (line);

  /* Room is kept for the end of the object even when the message is cut. */
  b.cap -= 2;
  nsbox_buf_str (&b, "{\"ok\":false,\"step\":");
  nsbox_buf_json (&b, step);
  nsbox_buf_str (&b, ",\"errno\":");
  nsbox_buf_int (&b, errnum);
  nsbox_buf_str (&b, ",\"message\":");
  nsbox_buf_json (&b, message);
  b.cap += 2;
  nsbox_buf_str (&b, "}\n");
  ready_send (line, b.len);
}

static int
write_file_atomic (const char *name, const char *data, size_t len, struct nsbox_error *err)
{
  char tmp[64];
  struct nsbox_buf b = NSBOX_BUF_FIXED (tmp);
  cleanup_fd int fd = -1;

  nsbox_buf_str (&b, ".");
  nsbox_buf_str (&b, name);
  nsbox_buf_str (&b, ".tmp");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return nsbox_fail (err, errno, "open '%s/%s'", S.box_dir, tmp);
  if (nsbox_write_all (fd, data, len) < 0)
    {
      int e = errno;
      unlink (tmp);
      return nsbox_fail (err, e, "write '%s/%s'", S.box_dir, tmp);
    }
  if (rename (tmp, name) < 0)
    {
      int e = errno;
      unlink (tmp);
      return nsbox_fail (err, e, "rename '%s/%s'", S.box_dir, name);
    }
  return 0;
}

int
shim_write_pid_file (const char *name, pid_t pid, struct nsbox_error *err)
{
  char text[24];
  struct nsbox_buf b = NSBOX_BUF_FIXED (text);

  nsbox_buf_int (&b, pid);
  nsbox_buf_str (&b, "\n");
  return write_file_atomic (name, text, b.len, err);
}

int
shim_write_exit (struct nsbox_error *err)
{
  char json[96];
  struct nsbox_buf b = NSBOX_BUF_FIXED (json);

  if (WIFSIGNALED (S.init_status))
    {
      nsbox_buf_str (&b, "{\"signal\":");
      nsbox_buf_int (&b, WTERMSIG (S.init_status));
    }
  else
    {
      nsbox_buf_str (&b, "{\"exitCode\":");
      nsbox_buf_int (&b, WEXITSTATUS (S.init_status));
    }
  nsbox_buf_str (&b, ",\"at\":");
  nsbox_buf_int (&b, S.exited_at);
  nsbox_buf_str (&b, "}\n");
  return write_file_atomic ("exit.json", json, b.len, err);
}
