/* openat2(2) with the retry its RESOLVE_BENEATH and RESOLVE_IN_ROOT modes ask of callers. */

#ifndef NSBOX_OPENAT2_H
#define NSBOX_OPENAT2_H

#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel answers EAGAIN when a rename or a mount anywhere on the system raced with the
 * resolution of a ".." (it cannot then prove the walk stayed inside the root). That is no
 * attack and no failure of the path: any other process mounting (another box starting) causes
 * it, so the call is tried again — a bounded number of times, a real attack loop gives up. */
static inline int
nsbox_openat2 (int dir_fd, const char *path, struct open_how *how)
{
  int fd;

  for (int attempt = 0; attempt < 128; attempt++)
    {
      fd = (int) syscall (SYS_openat2, dir_fd, path, how, sizeof *how);
      if (fd >= 0 || errno != EAGAIN)
        return fd;
    }
  return fd;
}

#endif
