/* User namespaces with given id maps (userns-map.h). */
#include "userns-map.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int
nsbox_write_proc_file (pid_t pid, const char *file, const char *text, struct nsbox_error *err)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/%s", pid, file);
  return nsbox_write_file (path, text, strlen (text), err);
}

int
nsbox_mapped_userns (const char *uidmap, const char *gidmap, int *out, struct nsbox_error *err)
{
  char path[64];
  int status, rc = 0;
  pid_t pid = (pid_t) syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);

  *out = -1;
  if (pid < 0)
    return nsbox_fail (err, errno, "make a user namespace with the given mappings");
  if (pid == 0)
    for (;;)
      pause ();
  if (nsbox_write_proc_file (pid, "uid_map", uidmap, err) < 0 || nsbox_write_proc_file (pid, "gid_map", gidmap, err) < 0)
    rc = -1;
  else
    {
      snprintf (path, sizeof path, "/proc/%d/ns/user", pid);
      *out = open (path, O_RDONLY | O_CLOEXEC);
      if (*out < 0)
        rc = nsbox_fail (err, errno, "open '%s'", path);
    }
  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return rc;
}
