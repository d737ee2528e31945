/* What the hardening tests try inside a box; one line out: `ok ...` or `err ENAME`.
 *   tiocsti                    a pty of the box's own made its controlling terminal, then TIOCSTI on it
 *   sched-fifo | sched-attr    SCHED_FIFO priority 1 with sched_setscheduler / sched_setattr
 *   socket FAMILY TYPE PROTO   socket(2) with those numbers
 *   open PATH                  open read-only (a device node)
 *   euid                       the effective uid (copied setuid by the tests) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int
result (int rc)
{
  if (rc < 0)
    {
      printf ("err %s\n", strerrorname_np (errno));
      return 1;
    }
  printf ("ok\n");
  return 0;
}

static int
tiocsti (void)
{
  char c = 'x';
  int master = posix_openpt (O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0)
    return result (-1);
  if (setsid () < 0 && errno != EPERM)
    return result (-1);
  /* Without O_NOCTTY: the pty becomes this session's terminal, which TIOCSTI requires. */
  int slave = open (ptsname (master), O_RDWR);
  if (slave < 0)
    return result (-1);
  return result (ioctl (slave, TIOCSTI, &c));
}

struct sched_attr_v0
{
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

int
main (int argc, char **argv)
{
  if (argc < 2)
    return 2;
  if (strcmp (argv[1], "tiocsti") == 0)
    return tiocsti ();
  if (strcmp (argv[1], "sched-fifo") == 0)
    {
      struct sched_param param = { .sched_priority = 1 };
      return result (sched_setscheduler (0, SCHED_FIFO, &param));
    }
  if (strcmp (argv[1], "sched-attr") == 0)
    {
      struct sched_attr_v0 attr = { .size = sizeof attr, .policy = SCHED_FIFO, .priority = 1 };
      return result ((int) syscall (SYS_sched_setattr, 0, &attr, 0));
    }
  if (strcmp (argv[1], "socket") == 0 && argc == 5)
    return result (socket (atoi (argv[2]), atoi (argv[3]), atoi (argv[4])));
  if (strcmp (argv[1], "open") == 0 && argc == 3)
    return result (open (argv[2], O_RDONLY | O_NOCTTY | O_NONBLOCK));
  if (strcmp (argv[1], "euid") == 0)
    {
      printf ("ok %d\n", (int) geteuid ());
      return 0;
    }
  return 2;
}
