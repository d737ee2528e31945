/* nsbox-runc-init: the first program of an OCI box, between `create` and `start`.
 *
 *   nsbox-runc-init READY_FIFO EXEC_FIFO PROGRAM ARGS...
 *
 * The launcher has built the box and exec'd us as its init, with the box's final identity,
 * capabilities, seccomp filter, environment and working directory: only the user's program
 * is missing. runc splits create from start the same way (its init blocks on exec.fifo).
 *
 *   1. PROGRAM is looked up in the box's PATH, as the launcher would.
 *   2. READY_FIFO (the fifos are bind-mounted into the box from the runtime's state) is
 *      opened for writing, which blocks until `create` opens it for reading; the verdict
 *      of step 1 is written: "ok\n" or "error ERRNO MESSAGE\n", and the fifo closed.
 *   3. EXEC_FIFO is opened for writing: that blocks until `start` opens it for reading.
 *      "exec\n" is written and PROGRAM exec'd; the fd is close-on-exec, so `start` sees
 *      EOF once execve succeeded, or an error line when it did not. Two fifos, so that
 *      `create` reading the verdict can never be taken for `start`.
 *
 * Statically linked: it runs inside any image. No allocation, no stdio buffering. */

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

/* "error ERRNO MESSAGE: strerror\n" in the runc style, so podman maps it to 126/127. */
static void
report_error (int fd, int errnum, const char *what, const char *name)
{
  char line[PATH_MAX + 256];
  int n;

  if (errnum == ENOENT && strchr (name, '/') == NULL)
    n = snprintf (line, sizeof line, "error %d exec: \"%s\": executable file not found in $PATH\n",
                  errnum, name);
  else
    n = snprintf (line, sizeof line, "error %d %s '%s': %s\n", errnum, what, name,
                  strerror (errnum));
  if (n > 0)
    nsbox_write_all (fd, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
}

static const char *
env_path (void)
{
  for (char **e = environ; e && *e; e++)
    if (strncmp (*e, "PATH=", 5) == 0)
      return *e + 5;
  return DEFAULT_PATH;
}

/* An executable regular file we may run: 0, or an errno. */
static int
check_file (const char *path)
{
  struct stat st;

  if (stat (path, &st) < 0)
    return errno;
  if (S_ISDIR (st.st_mode))
    return EACCES;
  if (access (path, X_OK) < 0)
    return errno;
  return 0;
}

/* PROGRAM as execve will find it: as given when it has a slash, else the first match in
 * PATH (an empty element is the working directory, as for execvp). 0 or an errno. */
static int
resolve (const char *file, char *out, size_t size)
{
  const char *path;
  bool eacces = false;

  if (file[0] == '\0')
    return ENOENT;
  if (strchr (file, '/'))
    {
      if (strlen (file) >= size)
        return ENAMETOOLONG;
      strcpy (out, file);
      return check_file (out);
    }
  path = env_path ();
  for (const char *p = path;; p++)
    {
      const char *end = strchrnul (p, ':');
      int len = (int) (end - p);

      if (snprintf (out, size, "%.*s%s%s", len, p, len ? "/" : "", file) < (int) size)
        {
          int e = check_file (out);
          if (e == 0)
            return 0;
          if (e == EACCES)
            eacces = true;
        }
      if (*end == '\0')
        break;
      p = end;
    }
  return eacces ? EACCES : ENOENT;
}

static int
open_fifo (const char *fifo)
{
  int fd;

  do
    fd = open (fifo, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  return fd;
}

int
main (int argc, char **argv)
{
  char path[PATH_MAX];
  int fd, e;

  if (argc < 4)
    {
      static const char usage[] = "usage: nsbox-runc-init READY_FIFO EXEC_FIFO PROGRAM [ARGS...]\n";
      nsbox_write_all (2, usage, sizeof usage - 1);
      return 2;
    }
  e = resolve (argv[3], path, sizeof path);

  fd = open_fifo (argv[1]);
  if (fd < 0)
    return 125;
  if (e != 0)
    {
      report_error (fd, e, "exec", argv[3]);
      close (fd);
      return e == ENOENT ? 127 : 126;
    }
  if (nsbox_write_all (fd, "ok\n", 3) < 0)
    return 125;
  close (fd);

  fd = open_fifo (argv[2]);
  if (fd < 0)
    return 125;
  if (nsbox_write_all (fd, "exec\n", 5) < 0)
    return 125;
  execve (path, argv + 3, environ);
  e = errno;
  report_error (fd, e, "exec", path);
  return e == ENOENT ? 127 : 126;
}
