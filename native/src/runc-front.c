/* nsbox-runc: the runc-compatible command line, as a thin native front.
 *
 * Every decision is taken by the nsbox-runc server (TypeScript, packages/oci/src/server),
 * which runs on the same core, host, runtime and plugins as `nsbox`. Starting Node costs
 * ~50 ms of CPU and podman calls the runtime three times per container, so the server stays
 * resident per --root (started by the first call, gone after a while without calls) and
 * this front only does what must happen in the caller's process tree:
 *
 *   - the box's init must be a descendant of the caller, so that conmon or containerd's
 *     shim (child subreapers) reap it and learn its exit status: the launcher is forked here;
 *   - the caller's stdio become the box's stdio (conmon's pipes), or a pty whose master is
 *     sent over --console-socket (SCM_RIGHTS, which Node cannot do);
 *   - `run` in the foreground waits for the init (we become a child subreaper for it).
 *
 * Protocol on the unix socket <root>/nsbox-runc.sock: frames of u32 length (little-endian,
 * counting the type byte) + type byte + body. Front → server: 'J' + one JSON object.
 * Server → front: 'O' fd + bytes (write them), 'S' spawn, 'W' wait, 'X' exit; the bodies
 * of S, W and X are NUL-terminated key=value strings. See src/server/protocol.ts.
 *
 * NSBOX_RUNC_SERVER overrides the server command line (split at spaces); with
 * NSBOX_RUNC_NO_DAEMON=1 a server is started for this one call and exits with it. */

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum
{
  FRAME_MAX = 16 << 20,
  SERVER_WAIT_MS = 30000,
};

static const char DEFAULT_ROOT[] = "/run/nsbox-runc";
static const char SOCK_NAME[] = "nsbox-runc.sock";

static int server_fd = -1;
/* The caller's fds 3 … caller_fds_end-1 were open when we started (before we opened any):
 * the most --preserve-fds can hand on. */
static int caller_fds_end = 3;
static int pty_master = -1;     /* kept for `run` on a terminal without a console socket */
static bool raw_mode = false;
static struct termios saved_termios;

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                          */
/* ------------------------------------------------------------------------------------ */

static void
restore_terminal (void)
{
  if (raw_mode)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved_termios);
  raw_mode = false;
}

static void __attribute__ ((noreturn, format (printf, 1, 2)))
die (const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  int n;

  restore_terminal ();
  va_start (ap, fmt);
  n = vsnprintf (msg, sizeof msg - 1, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if ((size_t) n > sizeof msg - 2)
    n = sizeof msg - 2;
  msg[n++] = '\n';
  (void) !write (2, "nsbox-runc: ", 12);
  (void) !write (2, msg, n);
  exit (1);
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A growing buffer (common.c); running out of memory ends the call. */
static void
buf_check (struct nsbox_buf *b)
{
  if (b->failed)
    die ("out of memory");
}

/* ------------------------------------------------------------------------------------ */
/* Frames                                                                                 */
/* ------------------------------------------------------------------------------------ */

static void
send_json (const char *json)
{
  uint32_t len = (uint32_t) strlen (json) + 1;
  char type = 'J';

  if (nsbox_write_all (server_fd, &len, 4) < 0 || nsbox_write_all (server_fd, &type, 1) < 0
      || nsbox_write_all (server_fd, json, len - 1) < 0)
    die ("lost the nsbox-runc server: %s", strerror (errno));
}

/* The value of key in a body of NUL-terminated key=value strings, or NULL. */
static const char *
body_get (const char *body, size_t len, const char *key)
{
  size_t klen = strlen (key);
  const char *p = body, *end = body + len;

  while (p < end)
    {
      size_t n = strnlen (p, end - p);
      if (n > klen && strncmp (p, key, klen) == 0 && p[klen] == '=')
        return p + klen + 1;
      p += n + 1;
    }
  return NULL;
}

static long
body_int (const char *body, size_t len, const char *key, long fallback)
{
  const char *v = body_get (body, len, key);
  return v ? strtol (v, NULL, 10) : fallback;
}

/* ------------------------------------------------------------------------------------ */
/* Finding or starting the server                                                        */
/* ------------------------------------------------------------------------------------ */

static const char *
find_root (int argc, char **argv)
{
  static const char *const with_value[] = { "--log", "--log-format", "--criu", "--rootless", NULL };
  const char *root = DEFAULT_ROOT;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (a[0] != '-')
        break;
      if (strcmp (a, "--root") == 0 && i + 1 < argc)
        root = argv[++i];
      else if (strncmp (a, "--root=", 7) == 0)
        root = a + 7;
      else
        for (int k = 0; with_value[k]; k++)
          if (strcmp (a, with_value[k]) == 0)
            {
              i++;
              break;
            }
    }
  return root;
}

static void
mkdir_p (const char *path)
{
  char tmp[PATH_MAX];
  size_t len = strlen (path);

  if (len == 0 || len >= sizeof tmp)
    die ("invalid --root '%s'", path);
  memcpy (tmp, path, len + 1);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        mkdir (tmp, 0755);
        *p = '/';
      }
  if (mkdir (tmp, 0700) < 0 && errno != EEXIST)
    die ("mkdir '%s': %s", path, strerror (errno));
}

static int
connect_server (const char *sock_path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (sock_path) >= sizeof addr.sun_path)
    die ("socket path too long: '%s'", sock_path);
  strcpy (addr.sun_path, sock_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die ("socket: %s", strerror (errno));
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

static bool
is_executable (const char *path)
{
  return access (path, X_OK) == 0;
}

static const char *
find_node (void)
{
  static char found[PATH_MAX];
  const char *path = getenv ("PATH");
  static const char *const fallback[] = { "/usr/local/bin/node", "/usr/bin/node", NULL };

  if (path)
    for (const char *p = path;; p++)
      {
        const char *end = strchrnul (p, ':');
        if (end > p && snprintf (found, sizeof found, "%.*s/node", (int) (end - p), p) < (int) sizeof found
            && is_executable (found))
          return found;
        if (*end == '\0')
          break;
        p = end;
      }
  for (int i = 0; fallback[i]; i++)
    if (is_executable (fallback[i]))
      return fallback[i];
  die ("cannot find node (looked in PATH, /usr/local/bin, /usr/bin)");
}

/* The server's argv: NSBOX_RUNC_SERVER split at spaces, or node + ../dist/server-main.js
 * next to this executable. */
static char **
server_argv (const char *root, const char *fd_arg)
{
  static char *argv[64];
  static char script[PATH_MAX + 32];
  const char *custom = getenv ("NSBOX_RUNC_SERVER");
  int n = 0;

  if (custom && *custom)
    {
      char *copy = strdup (custom);
      for (char *tok = strtok (copy, " "); tok && n < 56; tok = strtok (NULL, " "))
        argv[n++] = tok;
    }
  else
    {
      char self[PATH_MAX];
      ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
      char *slash;
      if (len < 0)
        die ("readlink /proc/self/exe: %s", strerror (errno));
      self[len] = '\0';
      slash = strrchr (self, '/');
      *slash = '\0';
      snprintf (script, sizeof script, "%s/../dist/server-main.js", self);
      argv[n++] = (char *) find_node ();
      argv[n++] = script;
    }
  argv[n++] = (char *) "--root";
  argv[n++] = (char *) root;
  if (fd_arg)
    {
      argv[n++] = (char *) "--fd";
      argv[n++] = (char *) fd_arg;
    }
  argv[n] = NULL;
  return argv;
}

/* Starts the resident server detached (its own session, stdio /dev/null, stderr to
 * <root>/server.log); it outlives this call. */
static void
spawn_server (const char *root)
{
  char log_path[PATH_MAX];
  pid_t pid;
  char **argv = server_argv (root, NULL);

  snprintf (log_path, sizeof log_path, "%s/server.log", root);
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
      setsid ();
      if (fork () != 0)
        _exit (0);
      dup2 (null, 0);
      dup2 (null, 1);
      dup2 (log >= 0 ? log : null, 2);
      close_range (3, ~0U, 0);
      execve (argv[0], argv, environ);
      dprintf (2, "nsbox-runc: exec '%s': %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  waitpid (pid, NULL, 0);
}

/* How long a call waits for the server it started: NSBOX_RUNC_SERVER_WAIT_SECONDS where node
 * takes longer than SERVER_WAIT_MS to start (an emulated machine, a server from source). */
static int64_t
server_wait_ms (void)
{
  const char *text = getenv ("NSBOX_RUNC_SERVER_WAIT_SECONDS");
  char *end;
  long seconds;

  if (!text || !*text)
    return SERVER_WAIT_MS;
  errno = 0;
  seconds = strtol (text, &end, 10);
  if (errno || *end || seconds < 1 || seconds > 3600)
    die ("NSBOX_RUNC_SERVER_WAIT_SECONDS '%s': a whole number of seconds from 1 to 3600", text);
  return (int64_t) seconds * 1000;
}

static int
open_server (const char *root)
{
  char sock_path[PATH_MAX], lock_path[PATH_MAX];
  int fd, lock;
  int64_t deadline, wait_ms = server_wait_ms ();

  snprintf (sock_path, sizeof sock_path, "%s/%s", root, SOCK_NAME);
  fd = connect_server (sock_path);
  if (fd >= 0)
    return fd;
  mkdir_p (root);
  /* One caller starts the server; the others wait on the lock, then connect. */
  snprintf (lock_path, sizeof lock_path, "%s/server.lock", root);
  lock = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock (lock, LOCK_EX) < 0)
    die ("lock '%s': %s", lock_path, strerror (errno));
  fd = connect_server (sock_path);
  if (fd < 0)
    {
      spawn_server (root);
      deadline = now_ms () + wait_ms;
      while ((fd = connect_server (sock_path)) < 0 && now_ms () < deadline)
        usleep (5000);
    }
  close (lock);
  if (fd < 0)
    die ("the nsbox-runc server did not start within %d s; see %s/server.log", (int) (wait_ms / 1000),
         root);
  return fd;
}

/* NSBOX_RUNC_NO_DAEMON: a server for this call only, on a socketpair. */
static int
open_private_server (const char *root)
{
  int sv[2];
  pid_t pid;

  mkdir_p (root);
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    die ("socketpair: %s", strerror (errno));
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  if (pid == 0)
    {
      char **argv = server_argv (root, "3");
      int null = open ("/dev/null", O_RDWR);
      dup2 (null, 0);
      dup2 (null, 1);
      if (dup2 (sv[1], 3) < 0)
        _exit (127);
      close_range (4, ~0U, 0);
      execve (argv[0], argv, environ);
      dprintf (2, "nsbox-runc: exec '%s': %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  close (sv[1]);
  return sv[0];
}

/* ------------------------------------------------------------------------------------ */
/* Spawning the launcher                                                                  */
/* ------------------------------------------------------------------------------------ */

static void
send_fd (const char *socket_path, int fd, const char *name)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  char control[CMSG_SPACE (sizeof (int))] = { 0 };
  struct iovec iov = { .iov_base = (void *) name, .iov_len = strlen (name) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
  int sock;

  if (strlen (socket_path) >= sizeof addr.sun_path)
    die ("console socket path too long: '%s'", socket_path);
  strcpy (addr.sun_path, socket_path);
  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    die ("connect to the console socket '%s': %s", socket_path, strerror (errno));
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
  if (sendmsg (sock, &msg, 0) < 0)
    die ("send the terminal to '%s': %s", socket_path, strerror (errno));
  close (sock);
}

static int
open_pty (int *slave, char *name, size_t name_size, int rows, int cols)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);

  if (master < 0)
    die ("open /dev/ptmx: %s", strerror (errno));
  if (unlockpt (master) < 0 || ptsname_r (master, name, name_size) != 0)
    die ("unlock the pty: %s", strerror (errno));
  *slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0)
    die ("open '%s': %s", name, strerror (errno));
  if (rows > 0 && cols > 0)
    {
      struct winsize ws = { .ws_row = rows, .ws_col = cols };
      ioctl (master, TIOCSWINSZ, &ws);
    }
  else if (isatty (STDIN_FILENO))
    {
      struct winsize ws;
      if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl (master, TIOCSWINSZ, &ws);
    }
  return master;
}

static void
make_raw (void)
{
  struct termios raw;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_termios) < 0)
    return;
  raw = saved_termios;
  cfmakeraw (&raw);
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
    raw_mode = true;
}

/* 'S': runs the launcher with fd 3 = the program and fd 4 = a result pipe, and reports
 * its result line. In create mode the launcher exits once the init runs; in join mode
 * (join=1) it stays to supervise the process and closes the result pipe at its exec. */
static void
do_spawn (const char *body, size_t len)
{
  const char *launcher = body_get (body, len, "launcher");
  const char *program = body_get (body, len, "program");
  const char *console = body_get (body, len, "console");
  bool tty = body_int (body, len, "tty", 0) != 0;
  bool join = body_int (body, len, "join", 0) != 0;
  bool subreaper = body_int (body, len, "subreaper", 0) != 0;
  /* --preserve-fds and socket activation: our fds 3 … 2+N are the box's, handed to the
   * launcher as 5 … 4+N (its `preserve_fds N`). */
  int preserve = (int) body_int (body, len, "preserve", 0);
  int rows = (int) body_int (body, len, "rows", 0), cols = (int) body_int (body, len, "cols", 0);
  int slave = -1, master = -1, prog_fd, result[2];
  char pty_name[PATH_MAX] = "";
  char line[1024];
  size_t used = 0;
  struct nsbox_buf reply = NSBOX_BUF_GROWING;
  int status = -1;
  pid_t pid;

  if (!launcher || !program || preserve < 0 || preserve > 4096)
    die ("bad spawn request from the server");
  if (3 + preserve > caller_fds_end)
    die ("--preserve-fds %d: fd %d is not open", preserve, caller_fds_end);
  prog_fd = open (program, O_RDONLY | O_CLOEXEC);
  if (prog_fd < 0)
    die ("open '%s': %s", program, strerror (errno));
  if (pipe2 (result, O_CLOEXEC) < 0)
    die ("pipe: %s", strerror (errno));
  if (tty)
    master = open_pty (&slave, pty_name, sizeof pty_name, rows, cols);
  if (subreaper && prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    die ("PR_SET_CHILD_SUBREAPER: %s", strerror (errno));

  pid = fork ();
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  if (pid == 0)
    {
      int count = 5 + preserve;
      int *want = calloc ((size_t) count, sizeof (int)), *tmp = calloc ((size_t) count, sizeof (int));
      sigset_t none;
      char *argv[] = { (char *) launcher, NULL };

      if (want == NULL || tmp == NULL)
        _exit (127);
      want[0] = tty ? slave : 0;
      want[1] = tty ? slave : 1;
      want[2] = tty ? slave : 2;
      want[3] = prog_fd;
      want[4] = result[1];
      for (int i = 0; i < preserve; i++)
        want[5 + i] = 3 + i;
      /* Out of the way of every target first, then into place. */
      for (int i = 0; i < count; i++)
        if ((tmp[i] = fcntl (want[i], F_DUPFD_CLOEXEC, count)) < 0)
          _exit (127);
      for (int i = 0; i < count; i++)
        if (dup2 (tmp[i], i) < 0)
          _exit (127);
      close_range ((unsigned) count, ~0U, 0);
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      for (int sig = 1; sig < NSIG; sig++)
        signal (sig, SIG_DFL);
      execve (launcher, argv, environ);
      dprintf (4, "error launcher %d exec '%s': %s\n", errno, launcher, strerror (errno));
      _exit (127);
    }
  close (prog_fd);
  close (result[1]);
  if (slave >= 0)
    close (slave);

  for (;;)
    {
      ssize_t n = read (result[0], line + used, sizeof line - 1 - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      used += n;
      if (used == sizeof line - 1)
        break;
    }
  close (result[0]);
  line[used] = '\0';
  if (used > 0 && line[used - 1] == '\n')
    line[--used] = '\0';

  /* The create-mode launcher exits right after its result; a join-mode one that failed too. */
  if (!join || used > 0)
    {
      int st;
      if (waitpid (pid, &st, 0) == pid)
        status = WIFSIGNALED (st) ? 128 + WTERMSIG (st) : WEXITSTATUS (st);
    }

  if (master >= 0)
    {
      bool started = strncmp (line, "ok ", 3) == 0 || (join && used == 0);
      if (started && console)
        send_fd (console, master, pty_name);
      if (started && !console)
        {
          pty_master = master; /* relayed while we wait */
          make_raw ();
        }
      else
        close (master);
    }

  nsbox_buf_str (&reply, "{\"t\":\"spawned\",\"line\":");
  nsbox_buf_json (&reply, line);
  nsbox_buf_str (&reply, ",\"launcher\":");
  nsbox_buf_int (&reply, pid);
  nsbox_buf_str (&reply, ",\"status\":");
  nsbox_buf_int (&reply, status);
  nsbox_buf_str (&reply, "}");
  buf_check (&reply);
  send_json (reply.p);
  free (reply.p);
}

/* Copies what is available from one fd to another; false on EOF or error. */
static bool
pump (int from, int to)
{
  char data[8192];
  ssize_t n = read (from, data, sizeof data);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  return nsbox_write_all (to, data, n) == 0;
}

/* 'W': waits for a child (the init after `run`, the launcher of `exec`), forwarding the
 * signals a terminal or a supervisor sends us, and relaying a pty we kept. */
static void
do_wait (const char *body, size_t len)
{
  static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };
  pid_t pid = (pid_t) body_int (body, len, "pid", -1);
  struct nsbox_buf reply = NSBOX_BUF_GROWING;
  sigset_t mask;
  int sigfd, code = -1;
  bool in_open = pty_master >= 0, out_open = pty_master >= 0;

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaddset (&mask, forwarded[i]);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sigfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0)
    die ("signalfd: %s", strerror (errno));

  for (;;)
    {
      int st;
      pid_t got = waitpid (pid, &st, WNOHANG);
      if (got == pid)
        {
          code = WIFSIGNALED (st) ? 128 + WTERMSIG (st) : WEXITSTATUS (st);
          break;
        }
      if (got < 0 && errno != EINTR)
        break; /* not our child: nothing to wait for */

      struct pollfd fds[3] = {
        { .fd = sigfd, .events = POLLIN },
        { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
        { .fd = out_open ? pty_master : -1, .events = POLLIN },
      };
      if (poll (fds, 3, -1) < 0 && errno != EINTR)
        break;
      if (fds[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read (sigfd, &si, sizeof si) == sizeof si)
            {
              if (si.ssi_signo == SIGCHLD)
                continue;
              if (si.ssi_signo == SIGWINCH)
                {
                  struct winsize ws;
                  if (pty_master >= 0 && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                    ioctl (pty_master, TIOCSWINSZ, &ws);
                  continue;
                }
              kill (pid, (int) si.ssi_signo);
            }
        }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
        in_open = pump (STDIN_FILENO, pty_master);
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
        out_open = pump (pty_master, STDOUT_FILENO);
    }
  /* What the box printed last is still in the pty. */
  if (out_open)
    {
      fcntl (pty_master, F_SETFL, fcntl (pty_master, F_GETFL) | O_NONBLOCK);
      while (pump (pty_master, STDOUT_FILENO))
        {
          struct pollfd p = { .fd = pty_master, .events = POLLIN };
          if (poll (&p, 1, 50) <= 0)
            break;
        }
    }
  restore_terminal ();
  close (sigfd);
  sigprocmask (SIG_UNBLOCK, &mask, NULL);

  nsbox_buf_str (&reply, "{\"t\":\"exited\",\"pid\":");
  nsbox_buf_int (&reply, pid);
  nsbox_buf_str (&reply, ",\"status\":");
  nsbox_buf_int (&reply, code);
  nsbox_buf_str (&reply, "}");
  buf_check (&reply);
  send_json (reply.p);
  free (reply.p);
}

/* ------------------------------------------------------------------------------------ */
/* Main                                                                                   */
/* ------------------------------------------------------------------------------------ */

static void
send_request (int argc, char **argv)
{
  struct nsbox_buf b = NSBOX_BUF_GROWING;
  char cwd[PATH_MAX];

  if (!getcwd (cwd, sizeof cwd))
    strcpy (cwd, "/");
  nsbox_buf_str (&b, "{\"t\":\"request\",\"argv\":[");
  for (int i = 1; i < argc; i++)
    {
      if (i > 1)
        nsbox_buf_str (&b, ",");
      nsbox_buf_json (&b, argv[i]);
    }
  nsbox_buf_str (&b, "],\"cwd\":");
  nsbox_buf_json (&b, cwd);
  nsbox_buf_str (&b, ",\"env\":[");
  for (char **e = environ; e && *e; e++)
    {
      if (e != environ)
        nsbox_buf_str (&b, ",");
      nsbox_buf_json (&b, *e);
    }
  nsbox_buf_str (&b, "],\"tty\":[");
  for (int fd = 0; fd < 3; fd++)
    nsbox_buf_str (&b, fd ? (isatty (fd) ? ",true" : ",false") : (isatty (fd) ? "true" : "false"));
  nsbox_buf_str (&b, "],\"pid\":");
  nsbox_buf_int (&b, getpid ());
  nsbox_buf_str (&b, ",\"fds\":");
  nsbox_buf_int (&b, caller_fds_end - 3);
  nsbox_buf_str (&b, "}");
  buf_check (&b);
  send_json (b.p);
  free (b.p);
}

int
main (int argc, char **argv)
{
  const char *root = find_root (argc, argv);
  const char *no_daemon = getenv ("NSBOX_RUNC_NO_DAEMON");
  static char frame[FRAME_MAX + 1];

  while (caller_fds_end < 3 + 4096 && fcntl (caller_fds_end, F_GETFD) >= 0)
    caller_fds_end++;
  signal (SIGPIPE, SIG_IGN);
  server_fd = (no_daemon && strcmp (no_daemon, "1") == 0) ? open_private_server (root) : open_server (root);
  send_request (argc, argv);

  for (;;)
    {
      uint32_t len;
      char type;

      if (nsbox_read_exact (server_fd, &len, 4) < 0 || len == 0 || len > FRAME_MAX)
        die ("the nsbox-runc server went away; see %s/server.log", root);
      if (nsbox_read_exact (server_fd, frame, len) < 0)
        die ("the nsbox-runc server went away; see %s/server.log", root);
      type = frame[0];
      frame[len] = '\0';
      switch (type)
        {
        case 'O':
          if (len >= 2)
            nsbox_write_all (frame[1] == 2 ? 2 : 1, frame + 2, len - 2);
          break;
        case 'S':
          do_spawn (frame + 1, len - 1);
          break;
        case 'W':
          do_wait (frame + 1, len - 1);
          break;
        case 'X':
          restore_terminal ();
          return (int) body_int (frame + 1, len - 1, "code", 1);
        default:
          die ("unexpected message '%c' from the server", type);
        }
    }
}
