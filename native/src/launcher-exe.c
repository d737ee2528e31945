/* Re-execution from a sealed memfd (CVE-2019-5736 class).
 *
 * While the launcher sets a box up, a process of the box can reach the launcher's binary
 * through /proc/PID/exe (of the joined process in join mode, of init before exec in
 * create mode) and, if it could open it for writing, replace the host binary. Running
 * from a sealed anonymous copy means /proc/PID/exe is that copy: it is not the host file,
 * and the seals forbid any write to it. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* True when /proc/self/exe is already our sealed memfd: F_GET_SEALS only succeeds on a
 * memfd, and nobody else would have put all four seals on it. No environment marker:
 * the environment is the caller's and could lie. */
static bool
running_sealed (void)
{
  cleanup_fd int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int seals;

  if (fd < 0)
    return false;
  seals = fcntl (fd, F_GET_SEALS);
  return seals >= 0 && (seals & SEALS) == SEALS;
}

static int
copy_self (int memfd, struct nsbox_error *err)
{
  cleanup_fd int exe = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  struct stat st;
  off_t done = 0;

  if (exe < 0)
    return nsbox_fail (err, errno, "open '/proc/self/exe'");
  if (fstat (exe, &st) < 0)
    return nsbox_fail (err, errno, "stat '/proc/self/exe'");
  while (done < st.st_size)
    {
      ssize_t n = sendfile (memfd, exe, NULL, st.st_size - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nsbox_fail (err, errno, "copy '/proc/self/exe' into a memfd");
      if (n == 0)
        return nsbox_fail (err, EIO, "copy '/proc/self/exe': unexpected end of file");
      done += n;
    }
  return 0;
}

int
nsbox_ensure_sealed_self (char **argv, struct nsbox_error *err)
{
  char *empty_env[] = { NULL };
  cleanup_fd int memfd = -1;

  if (running_sealed ())
    return 0;

  memfd = memfd_create ("nsbox-launcher", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0)
    return nsbox_fail (err, errno, "memfd_create");
  if (copy_self (memfd, err) < 0)
    return -1;
  if (fcntl (memfd, F_ADD_SEALS, SEALS) < 0)
    return nsbox_fail (err, errno, "seal the memfd copy of the launcher");

  /* fds 0-4 are inherited (the program on fd 3 has not been read yet: it is read after
   * the re-exec, so nothing needs to be passed along); the memfd itself is CLOEXEC.
   * The environment is dropped: the box's comes from `env` ops. */
  fexecve (memfd, argv, empty_env);
  return nsbox_fail (err, errno, "fexecve the sealed copy of the launcher");
}
