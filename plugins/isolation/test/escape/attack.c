/* attack: the escape suite's attacker, compiled statically at test time into a box's
 * rootfs. Each subcommand tries one thing a box must not be able to do and prints one
 * line: `ok DETAIL` when the kernel let it through, `err ENAME` with the errno name when
 * it did not. The suite decides what the expected answer is. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include <linux/reboot.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int
fail (void)
{
  printf ("err %s\n", strerrorname_np (errno));
  return 1;
}

static int
ok (const char *detail)
{
  printf ("ok %s\n", detail);
  return 0;
}

static int
parse_sockaddr (const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
  memset (ss, 0, sizeof *ss);
  if (strchr (addr, ':'))
    {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons (port);
      *len = sizeof *s6;
      return inet_pton (AF_INET6, addr, &s6->sin6_addr) == 1 ? AF_INET6 : -1;
    }
  struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons (port);
  *len = sizeof *s4;
  return inet_pton (AF_INET, addr, &s4->sin_addr) == 1 ? AF_INET : -1;
}

static void
local_name (int fd, char *buf, size_t size)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char text[INET6_ADDRSTRLEN] = "?";

  if (getsockname (fd, (struct sockaddr *) &ss, &len) == 0)
    {
      if (ss.ss_family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, text, sizeof text);
      else
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, text, sizeof text);
    }
  snprintf (buf, size, "%s", text);
}

/* net bind|connect|udp ADDR PORT: what the socket's local address is afterwards. */
static int
net (const char *what, const char *addr, int port)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int family = parse_sockaddr (addr, port, &ss, &len);
  int udp = strcmp (what, "udp") == 0;
  int fd;
  char name[INET6_ADDRSTRLEN + 8];

  if (family < 0)
    {
      errno = EINVAL;
      return fail ();
    }
  fd = socket (family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (fd < 0)
    return fail ();
  if (strcmp (what, "bind") == 0)
    {
      int one = 1;
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind (fd, (struct sockaddr *) &ss, len) < 0)
        return fail ();
    }
  else if (strcmp (what, "connect") == 0)
    {
      if (connect (fd, (struct sockaddr *) &ss, len) < 0)
        return fail ();
    }
  else if (udp)
    {
      if (sendto (fd, "x", 1, 0, (struct sockaddr *) &ss, len) < 0)
        return fail ();
    }
  local_name (fd, name, sizeof name);
  return ok (name);
}

/* The "shocker" exploit: open a file of the host filesystem by its handle (inode 2, the
 * root directory of an ext4 filesystem), which needs CAP_DAC_READ_SEARCH on the host. */
static int
open_by_handle (void)
{
  struct
  {
    struct file_handle h;
    unsigned char bytes[8];
  } handle = { .h = { .handle_bytes = 8, .handle_type = 1 } };
  uint32_t ino = 2, gen = 0;
  int mount_fd = open ("/", O_RDONLY | O_DIRECTORY);

  memcpy (handle.h.f_handle, &ino, 4);
  memcpy (handle.h.f_handle + 4, &gen, 4);
  if (syscall (SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY) < 0)
    return fail ();
  return ok ("opened");
}

static int
read_file (const char *path, long max)
{
  char buf[4096], detail[64];
  long total = 0;
  ssize_t n = 0;
  int fd = open (path, O_RDONLY);

  if (fd < 0)
    return fail ();
  while (total < max && (n = read (fd, buf, sizeof buf)) > 0)
    total += n;
  if (n < 0 && total == 0)
    return fail ();
  snprintf (detail, sizeof detail, "%ld bytes", total);
  return ok (detail);
}

static int
write_file (const char *path, const char *data)
{
  int fd = open (path, O_WRONLY);
  if (fd < 0)
    return fail ();
  if (write (fd, data, strlen (data)) < 0)
    return fail ();
  return ok ("written");
}

/* CVE-2019-5736: watches the box's /proc for processes whose executable is not a file of
 * the box (the host entering it) and opens that executable (the step that needs ptrace
 * access to the process); afterwards, when the process has exec'd or exited, reopens each
 * handle for writing and writes back its own first byte (content unchanged either way). */
static int
exe_watch (int seconds)
{
  time_t end = time (NULL) + seconds;
  int pids[1024], n_pids = 0, tries = 0, held[64], n_held = 0, written = 0;
  char last[300] = "none";

  while (time (NULL) < end)
    {
      DIR *proc = opendir ("/proc");
      struct dirent *e;
      while (proc && (e = readdir (proc)))
        {
          char path[300], target[256];
          int pid = atoi (e->d_name), known = 0;
          ssize_t n;
          if (pid <= 0 || pid == getpid ())
            continue;
          snprintf (path, sizeof path, "/proc/%s/exe", e->d_name);
          n = readlink (path, target, sizeof target - 1);
          target[n > 0 ? n : 0] = '\0';
          if (n > 0 && (strncmp (target, "/bin/", 5) == 0 || strncmp (target, "/attack", 7) == 0))
            continue;
          int fd = open (path, O_RDONLY | O_CLOEXEC);
          if (fd < 0 && errno == ENOENT)
            continue;
          tries++;
          for (int i = 0; i < n_pids; i++)
            known |= pids[i] == pid;
          if (!known && n_pids < 1024)
            pids[n_pids++] = pid;
          snprintf (last, sizeof last, "%s=%s", target[0] ? target : "(unreadable)",
                    fd >= 0 ? "OPENED" : strerrorname_np (errno));
          if (fd >= 0 && n_held < 64)
            held[n_held++] = fd;
          else if (fd >= 0)
            close (fd);
        }
      if (proc)
        closedir (proc);
    }
  for (int i = 0; i < n_held; i++)
    {
      char path[64], byte;
      snprintf (path, sizeof path, "/proc/self/fd/%d", held[i]);
      int fd = open (path, O_WRONLY);
      if (fd >= 0 && pread (held[i], &byte, 1, 0) == 1 && pwrite (fd, &byte, 1, 0) == 1)
        written++;
      if (fd >= 0)
        close (fd);
    }
  printf ("%s processes=%d tries=%d opened=%d written=%d last=%s\n", n_held ? "ok" : "err", n_pids,
          tries, n_held, written, last);
  return n_held ? 0 : 1;
}

/* A box program's path: tracing one of those is no escape. */
static int
box_program (const char *exe)
{
  return strncmp (exe, "/bin/", 5) == 0 || strncmp (exe, "/attack", 7) == 0;
}

/* Lets a seized tracee go: PTRACE_DETACH needs it stopped, and one that exits meanwhile
 * reports its exit to us (the tracer) first, which waitpid takes so its parent can reap it. */
static void
ptrace_release (pid_t pid)
{
  int status;
  if (ptrace (PTRACE_INTERRUPT, pid, 0, 0) < 0)
    return;
  while (waitpid (pid, &status, __WALL) < 0)
    if (errno != EINTR)
      return;
  if (WIFSTOPPED (status))
    ptrace (PTRACE_DETACH, pid, 0, 0);
}

/* Watches the box's /proc for processes that are not the box's own programs (the host
 * entering the box: the launcher before its exec) and tries to ptrace-seize each; prints
 * what it saw: `ok ... last=ATTACHED(exe=PATH|unreadable:ERRNO comm=NAME)` for the first
 * attach, else `err ... last=ERRNO` of the last refusal.
 *
 * Between the look at /proc/PID/exe and the seize, the process may have exec'd a box
 * program, which the box's root may trace: the exe is read again once attached. A process
 * found without an exe then (ENOENT) is `gone`, as is one that exited before the seize
 * (ESRCH): PTRACE_O_TRACEEXIT stops a tracee at the start of its exit with its memory still
 * mapped, so a tracee without one was already past that point when we attached — it runs
 * no code of its own again, and attaching it is no escape. Any other unreadable exe
 * (EACCES: not dumpable now that we hold it) counts as an attach to the host's process. */
static int
ptrace_watch (int seconds)
{
  time_t end = time (NULL) + seconds;
  int seen = 0, attached = 0, gone = 0;
  char last[64] = "none", first_attach[400] = "";

  while (time (NULL) < end)
    {
      DIR *proc = opendir ("/proc");
      struct dirent *e;
      while (proc && (e = readdir (proc)))
        {
          char path[300], target[256], comm[64] = "?";
          int pid = atoi (e->d_name), why;
          ssize_t n;
          FILE *stat;
          if (pid <= 1 || pid == getpid ())
            continue;
          snprintf (path, sizeof path, "/proc/%s/exe", e->d_name);
          n = readlink (path, target, sizeof target - 1);
          target[n > 0 ? n : 0] = '\0';
          if (n > 0 && box_program (target))
            continue;
          if (n < 0 && errno == ENOENT)
            continue;
          seen++;
          /* SEIZE: no stop of its own; the tracee is let go below (ptrace_release). */
          if (ptrace (PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT) < 0)
            {
              /* ESRCH: it exited since we looked, nothing was refused. */
              if (errno == ESRCH)
                gone++;
              else
                snprintf (last, sizeof last, "%s", strerrorname_np (errno));
              continue;
            }
          n = readlink (path, target, sizeof target - 1);
          why = n < 0 ? errno : 0;
          target[n > 0 ? n : 0] = '\0';
          if (n < 0 && why == ENOENT)
            gone++;
          else if (n < 0 || !box_program (target))
            {
              snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
              if ((stat = fopen (path, "r")) != NULL)
                {
                  if (fscanf (stat, "%*d (%63[^)])", comm) != 1)
                    snprintf (comm, sizeof comm, "?");
                  fclose (stat);
                }
              if (attached++ == 0)
                snprintf (first_attach, sizeof first_attach, "ATTACHED(exe=%s%s comm=%s)",
                          n > 0 ? target : "unreadable:", n > 0 ? "" : strerrorname_np (why), comm);
            }
          ptrace_release (pid);
        }
      if (proc)
        closedir (proc);
    }
  printf ("%s seen=%d attached=%d gone=%d last=%s\n", attached ? "ok" : "err", seen, attached, gone,
          attached ? first_attach : last);
  return attached ? 0 : 1;
}

/* Types into a terminal: TIOCSTI on fds 0-2 and /dev/tty (a terminal the box was handed). */
static int
tiocsti (const char *text)
{
  int fds[4] = { 0, 1, 2, open ("/dev/tty", O_RDWR | O_NOCTTY) }, typed = 0;
  int error = 0;
  for (int i = 0; i < 4; i++)
    {
      int fd_ok = fds[i] >= 0 && isatty (fds[i]);
      if (!fd_ok)
        continue;
      int all = 1;
      for (const char *c = text; *c; c++)
        if (ioctl (fds[i], TIOCSTI, c) < 0)
          {
            error = errno;
            all = 0;
            break;
          }
      if (all)
        {
          typed = 1;
          break;
        }
    }
  if (typed)
    return ok ("typed");
  errno = error ? error : ENOTTY;
  return fail ();
}

/* TIOCSTI into a pty of the box's own that is the caller's controlling terminal: only
 * the seccomp filter stands in the way; the text comes back on the terminal's input. */
static int
tiocsti_own_pty (void)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY), slave;
  char buf[16] = "";
  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0)
    return fail ();
  pid_t child = fork ();
  if (child == 0)
    {
      setsid ();
      slave = open (ptsname (master), O_RDWR);
      if (slave < 0)
        _exit (fail ());
      if (ioctl (slave, TIOCSTI, "x") < 0 || ioctl (slave, TIOCSTI, "\n") < 0)
        _exit (fail ());
      ssize_t n = read (slave, buf, sizeof buf - 1);
      _exit (n > 0 && buf[0] == 'x' ? ok ("typed into its own terminal") : fail ());
    }
  int status = 0;
  waitpid (child, &status, 0);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
}

static int
abstract_connect (const char *name)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  size_t len = strlen (name);
  if (fd < 0)
    return fail ();
  memcpy (addr.sun_path + 1, name, len);
  /* The whole sun_path, NUL-padded, as Node names an abstract socket. */
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return fail ();
  return ok ("connected");
}

static unsigned long
mount_flags (const char *list)
{
  unsigned long flags = 0;
  char copy[128], *save, *word;
  snprintf (copy, sizeof copy, "%s", list);
  for (word = strtok_r (copy, ",", &save); word; word = strtok_r (NULL, ",", &save))
    {
      if (strcmp (word, "ro") == 0)
        flags |= MS_RDONLY;
      else if (strcmp (word, "remount") == 0)
        flags |= MS_REMOUNT;
      else if (strcmp (word, "bind") == 0)
        flags |= MS_BIND;
      else if (strcmp (word, "rec") == 0)
        flags |= MS_REC;
      else if (strcmp (word, "shared") == 0)
        flags |= MS_SHARED;
    }
  return flags;
}

/* mount SOURCE TARGET TYPE FLAGS DATA ("-" for none); the target is made if missing. */
static int
do_mount (char **argv)
{
  const char *source = strcmp (argv[0], "-") ? argv[0] : NULL;
  const char *type = strcmp (argv[2], "-") ? argv[2] : NULL;
  const char *data = strcmp (argv[4], "-") ? argv[4] : NULL;
  mkdir (argv[1], 0755);
  if (mount (source, argv[1], type, mount_flags (argv[3]), data) < 0)
    return fail ();
  return ok ("mounted");
}

/* CVE-2022-0492: mount a cgroup v1 hierarchy and set its release_agent (run by the kernel
 * as host root when a cgroup of it empties). */
static int
release_agent (const char *dir, const char *options)
{
  char path[300];
  mkdir (dir, 0755);
  if (mount ("cgroup", dir, "cgroup", 0, options) < 0)
    return fail ();
  snprintf (path, sizeof path, "%s/release_agent", dir);
  int fd = open (path, O_WRONLY);
  int written = fd >= 0 && write (fd, "/bin/true", 9) == 9;
  int saved = errno;
  umount2 (dir, MNT_DETACH);
  errno = saved;
  return written ? ok ("release_agent set") : fail ();
}

/* CVE-2024-21626: is the working directory outside the root? Walk up from it and compare
 * the top with "/". With ROOT: chroot there first without moving the cwd (runc's bug). */
static int
cwd_escape (const char *root)
{
  struct stat top, slash;
  if (root && chroot (root) < 0)
    return fail ();
  for (int i = 0; i < 64; i++)
    if (chdir ("..") < 0)
      return fail ();
  if (stat (".", &top) < 0 || stat ("/", &slash) < 0)
    return fail ();
  if (top.st_dev != slash.st_dev || top.st_ino != slash.st_ino)
    return ok ("the working directory is outside the root");
  errno = EXDEV; /* stand-in: stayed inside */
  printf ("err inside-root\n");
  return 1;
}

int
main (int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : "";
  setvbuf (stdout, NULL, _IOLBF, 0);

  if (strcmp (cmd, "net") == 0 && argc == 5)
    return net (argv[2], argv[3], atoi (argv[4]));
  if (strcmp (cmd, "raw") == 0)
    return socket (AF_INET, SOCK_RAW, IPPROTO_UDP) < 0 ? fail () : ok ("raw socket");
  if (strcmp (cmd, "open_by_handle_at") == 0)
    return open_by_handle ();
  if (strcmp (cmd, "keyctl") == 0)
    return syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) < 0 ? fail ()
                                                                                     : ok ("keyring");
  if (strcmp (cmd, "add_key") == 0)
    return syscall (SYS_add_key, "user", "nsbox-escape", "x", 1, KEY_SPEC_USER_KEYRING) < 0
               ? fail ()
               : ok ("added");
  if (strcmp (cmd, "bpf") == 0)
    {
      union bpf_attr attr = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4,
                              .max_entries = 1 };
      return syscall (SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr) < 0 ? fail () : ok ("map");
    }
  if (strcmp (cmd, "perf_event_open") == 0)
    {
      struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof attr,
                                      .config = PERF_COUNT_SW_CPU_CLOCK,
                                      .exclude_kernel = 1, .exclude_hv = 1 };
      return syscall (SYS_perf_event_open, &attr, 0, -1, -1, 0) < 0 ? fail () : ok ("event");
    }
  if (strcmp (cmd, "userfaultfd") == 0)
    return syscall (SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */) < 0 ? fail () : ok ("uffd");
  if (strcmp (cmd, "userns") == 0)
    return unshare (CLONE_NEWUSER) < 0 ? fail () : ok ("new user namespace");
  if (strcmp (cmd, "clone-userns") == 0)
    {
      pid_t pid = (pid_t) syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
      if (pid < 0)
        return fail ();
      if (pid == 0)
        _exit (0);
      waitpid (pid, NULL, 0);
      return ok ("cloned");
    }
  if (strcmp (cmd, "finit_module") == 0 && argc == 3)
    {
      int fd = open (argv[2], O_RDONLY);
      return syscall (SYS_finit_module, fd, "", 0) < 0 ? fail () : ok ("loaded");
    }
  if (strcmp (cmd, "init_module") == 0)
    return syscall (SYS_init_module, "\177ELF", 4, "") < 0 ? fail () : ok ("loaded");
  if (strcmp (cmd, "reboot") == 0)
    return reboot (RB_AUTOBOOT) < 0 ? fail () : ok ("rebooting");
  if (strcmp (cmd, "mknod") == 0 && argc == 6)
    return mknod (argv[2], (argv[3][0] == 'b' ? S_IFBLK : S_IFCHR) | 0600,
                  makedev (atoi (argv[4]), atoi (argv[5])))
                   < 0
               ? fail ()
               : ok ("created");
  if (strcmp (cmd, "read") == 0 && argc >= 3)
    return read_file (argv[2], argc > 3 ? atol (argv[3]) : 1 << 20);
  if (strcmp (cmd, "write") == 0 && argc == 4)
    return write_file (argv[2], argv[3]);
  if (strcmp (cmd, "ptrace") == 0 && argc == 3)
    return ptrace (PTRACE_ATTACH, atoi (argv[2]), 0, 0) < 0 ? fail () : ok ("attached");
  if (strcmp (cmd, "kill") == 0 && argc == 4)
    return kill (atoi (argv[2]), atoi (argv[3])) < 0 ? fail () : ok ("signaled");
  if (strcmp (cmd, "renice") == 0 && argc == 4)
    return setpriority (PRIO_PROCESS, atoi (argv[2]), atoi (argv[3])) < 0 ? fail ()
                                                                          : ok ("reniced");
  if (strcmp (cmd, "renice-user") == 0 && argc == 4)
    return setpriority (PRIO_USER, atoi (argv[2]), atoi (argv[3])) < 0 ? fail ()
                                                                       : ok ("reniced");
  if (strcmp (cmd, "shmget") == 0 && argc == 3)
    return shmget ((key_t) strtol (argv[2], NULL, 0), 0, 0) < 0 ? fail () : ok ("found");
  if (strcmp (cmd, "shmcreate") == 0 && argc == 3)
    {
      int id = shmget ((key_t) strtol (argv[2], NULL, 0), 4096, IPC_CREAT | IPC_EXCL | 0666);
      char detail[32];
      if (id < 0)
        return fail ();
      snprintf (detail, sizeof detail, "%d", id);
      return ok (detail);
    }
  if (strcmp (cmd, "shmat") == 0 && argc == 3)
    return shmat (atoi (argv[2]), NULL, SHM_RDONLY) == (void *) -1 ? fail () : ok ("attached");
  if (strcmp (cmd, "remount-rw") == 0)
    return mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) < 0 ? fail () : ok ("remounted");
  if (strcmp (cmd, "umount") == 0 && argc == 3)
    return umount2 (argv[2], MNT_DETACH) < 0 ? fail () : ok ("unmounted");
  if (strcmp (cmd, "fd") == 0 && argc == 3)
    {
      int fd = atoi (argv[2]);
      return fcntl (fd, F_GETFD) < 0 ? fail () : ok ("open");
    }
  if (strcmp (cmd, "exe-watch") == 0 && argc == 3)
    return exe_watch (atoi (argv[2]));
  if (strcmp (cmd, "io_uring") == 0)
    {
      struct io_uring_params params = { 0 };
      return syscall (SYS_io_uring_setup, 1, &params) < 0 ? fail () : ok ("ring");
    }
  if (strcmp (cmd, "tiocsti") == 0 && argc == 3)
    return tiocsti (argv[2]);
  if (strcmp (cmd, "tiocsti-own-pty") == 0)
    return tiocsti_own_pty ();
  if (strcmp (cmd, "ctty") == 0)
    {
      int fd = open ("/dev/tty", O_RDWR | O_NOCTTY);
      return fd < 0 ? fail () : ok ("has a controlling terminal");
    }
  if (strcmp (cmd, "abstract") == 0 && argc == 3)
    return abstract_connect (argv[2]);
  if (strcmp (cmd, "ptrace-watch") == 0 && argc == 3)
    return ptrace_watch (atoi (argv[2]));
  if (strcmp (cmd, "mount") == 0 && argc == 7)
    return do_mount (argv + 2);
  if (strcmp (cmd, "release-agent") == 0 && argc == 4)
    return release_agent (argv[2], argv[3]);
  if (strcmp (cmd, "cwd-escape") == 0)
    return cwd_escape (argc > 2 ? argv[2] : NULL);
  if (strcmp (cmd, "reboot-cad") == 0 && argc == 3)
    return reboot (atoi (argv[2]) ? LINUX_REBOOT_CMD_CAD_ON : LINUX_REBOOT_CMD_CAD_OFF) < 0 ? fail ()
                                                                                             : ok ("set");
  if (strcmp (cmd, "keyring-id") == 0)
    {
      long id = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1);
      char detail[32];
      if (id < 0)
        return fail ();
      snprintf (detail, sizeof detail, "%ld", id);
      return ok (detail);
    }
  fprintf (stderr, "usage: attack COMMAND ARGS...\n");
  return 2;
}
