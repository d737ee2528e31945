/* nsbox-shim: the per-box supervisor (native/PROTOCOL.md §2).
 *
 *   nsbox-shim --box-dir DIR --launcher PATH [--terminal] [--log-max BYTES] [--log-keep N]
 *
 * One process per box, started detached by the runtime with fd 3 = the launch program and
 * fd 4 = a ready pipe. It starts the box through the launcher, then stays as the box
 * init's parent (child subreaper): it owns the box's console (pipes or a pty) and its log,
 * answers a small command socket and records how the box ended.
 *
 * Single-threaded: one epoll loop, SIGCHLD through a signalfd, static buffers, no
 * allocation after setup, statically linked, so that its idle footprint stays well under
 * 1 MiB. Nothing here knows about boxes beyond this file's contract: policy is in the
 * runtime, mount and namespace work in the launcher. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

enum
{
  LOG_MAX_DEFAULT = 1 << 20,
  LOG_KEEP_DEFAULT = 2,
  LOG_KEEP_MAX = 1000,
  MAX_CLIENTS = 16,     /* command and attach connections at once */
  CMD_MAX = 128,        /* one command line */
  IO_BUF = 16384,       /* one read of box output */
  IN_BUF = 4096,        /* box input waiting for the box to read it */
  RESULT_MAX = 1024,    /* the launcher's result line */
  MAX_EVENTS = 32,
  DRAIN_MS = 1000,      /* output kept being read after init exited */
  CMD_TIMEOUT_MS = 10000, /* a connection must send its command line within this */
  FAIL_WAIT_MS = 2000,  /* after a launcher error: time given to it to exit and clean up */
};

/* epoll tags (epoll_event.data.u64). */
enum
{
  TAG_SIGNAL = 1,
  TAG_RESULT,
  TAG_OUTPUT,
  TAG_STDIN,
  TAG_LISTEN,
  TAG_CLIENT = 64, /* + client slot */
};

enum box_state
{
  BOX_STARTING, /* the launcher runs; no result yet */
  BOX_RUNNING,  /* init runs */
  BOX_EXITED,   /* init exited; draining the output */
  BOX_FAILED,   /* the launcher failed; waiting for it and its leftovers to go */
};

enum client_kind
{
  CLIENT_FREE,
  CLIENT_COMMAND,
  CLIENT_ATTACH,
};

struct client
{
  int fd;
  enum client_kind kind;
  bool input_eof;   /* the peer shut down its sending side */
  int64_t deadline; /* monotonic ms; 0 = none */
  size_t len;
  char line[CMD_MAX];
};

/* What went wrong (crun style): the errno and what was being done. */
struct shim_error
{
  int errnum;
  char msg[512];
};

static struct
{
  /* options */
  char launcher[PATH_MAX];
  const char *box_dir;
  bool terminal;
  uint64_t log_max; /* 0: never rotate */
  unsigned log_keep;

  /* fds; -1 when closed */
  int ready_fd;  /* to the starter: one JSON line */
  int result_fd; /* from the launcher: one result line */
  int out_fd;    /* box output: pipe read end or pty master */
  int in_fd;     /* box input: pipe write end or pty master */
  int listen_fd;
  int signal_fd;
  int epoll_fd;
  int log_fd;

  pid_t self;
  pid_t launcher_pid;
  pid_t init_pid;
  enum box_state state;
  bool launcher_reaped;
  bool children_left;
  bool last_round; /* BOX_FAILED: the leftovers were killed; next deadline gives up */
  int launcher_status;
  int init_status;
  int64_t exited_at; /* realtime ms */
  int64_t deadline;  /* monotonic ms, for BOX_EXITED and BOX_FAILED; 0 = none */

  uint64_t log_size;
  size_t result_len;
  size_t pending_len; /* bytes in pending[] */
  bool in_polled;     /* in_fd is waited on for EPOLLOUT */
} S = {
  .ready_fd = -1,
  .result_fd = -1,
  .out_fd = -1,
  .in_fd = -1,
  .listen_fd = -1,
  .signal_fd = -1,
  .epoll_fd = -1,
  .log_fd = -1,
  .log_max = LOG_MAX_DEFAULT,
  .log_keep = LOG_KEEP_DEFAULT,
};

static char io_buf[IO_BUF];
static char pending[IN_BUF];
static char result_buf[RESULT_MAX + 1];
static struct client clients[MAX_CLIENTS];

static const char SOCK_NAME[] = "shim.sock";
static const char LOG_NAME[] = "console.log";

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                          */
/* ------------------------------------------------------------------------------------ */

static void
close_fdp (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
      *fd = -1;
    }
}
#define cleanup_fd __attribute__ ((cleanup (close_fdp)))

static int shim_fail (struct shim_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Fills err and returns -1: `return shim_fail (err, errno, "open '%s'", path);`. Only on
 * error paths, so stdio's formatting code is never paged in while the box runs. */
static int
shim_fail (struct shim_error *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if ((size_t) n >= sizeof err->msg)
    n = sizeof err->msg - 1;
  if (errnum)
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  err->errnum = errnum;
  return -1;
}

static int64_t
now_ms (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
write_all (int fd, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= n;
    }
  return 0;
}

/* A bounded string builder: appends are cut at the capacity, the text stays
 * NUL-terminated. */
struct sbuf
{
  char *p;
  size_t len, cap;
};

static void
sb_mem (struct sbuf *b, const char *s, size_t n)
{
  if (b->len + n >= b->cap)
    n = b->cap - 1 - b->len;
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
sb_str (struct sbuf *b, const char *s)
{
  sb_mem (b, s, strlen (s));
}

static void
sb_int (struct sbuf *b, int64_t v)
{
  char tmp[24];
  size_t i = sizeof tmp;
  uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

  do
    tmp[--i] = '0' + u % 10;
  while ((u /= 10) != 0);
  if (v < 0)
    tmp[--i] = '-';
  sb_mem (b, tmp + i, sizeof tmp - i);
}

/* Appends s as a JSON string, quotes included. */
static void
sb_json (struct sbuf *b, const char *s)
{
  static const char hex[] = "0123456789abcdef";

  sb_mem (b, "\"", 1);
  for (; *s; s++)
    {
      unsigned char c = *s;
      if (c == '"' || c == '\\')
        {
          char esc[2] = { '\\', c };
          sb_mem (b, esc, 2);
        }
      else if (c < 0x20 || c == 0x7f)
        {
          char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
          sb_mem (b, esc, 6);
        }
      else
        sb_mem (b, (const char *) &c, 1);
    }
  sb_mem (b, "\"", 1);
}

/* Parses an unsigned decimal number that ends at a space or at the end of the text;
 * advances *p past it. */
static bool
parse_uint (const char **p, uint64_t max, uint64_t *out)
{
  const char *s = *p;
  uint64_t v = 0;

  if (*s < '0' || *s > '9')
    return false;
  for (; *s >= '0' && *s <= '9'; s++)
    {
      v = v * 10 + (*s - '0');
      if (v > max)
        return false;
    }
  if (*s != '\0' && *s != ' ')
    return false;
  *p = s;
  *out = v;
  return true;
}

/* Writes a file of the box dir (the cwd) atomically: a temporary file, then rename. */
static int
write_file_atomic (const char *name, const char *data, size_t len, struct shim_error *err)
{
  char tmp[64];
  struct sbuf b = { tmp, 0, sizeof tmp };
  cleanup_fd int fd = -1;

  sb_str (&b, ".");
  sb_str (&b, name);
  sb_str (&b, ".tmp");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return shim_fail (err, errno, "open '%s/%s'", S.box_dir, tmp);
  if (write_all (fd, data, len) < 0)
    {
      int e = errno;
      unlink (tmp);
      return shim_fail (err, e, "write '%s/%s'", S.box_dir, tmp);
    }
  if (rename (tmp, name) < 0)
    {
      int e = errno;
      unlink (tmp);
      return shim_fail (err, e, "rename '%s/%s'", S.box_dir, name);
    }
  return 0;
}

static int
write_pid_file (const char *name, pid_t pid, struct shim_error *err)
{
  char text[24];
  struct sbuf b = { text, 0, sizeof text };

  sb_int (&b, pid);
  sb_str (&b, "\n");
  return write_file_atomic (name, text, b.len, err);
}

static int
ep_set (int op, int fd, uint32_t events, uint64_t tag)
{
  struct epoll_event ev = { .events = events, .data.u64 = tag };

  return epoll_ctl (S.epoll_fd, op, fd, &ev);
}

/* Closes an fd that is registered in epoll (closing it removes it from the set). */
static void
ep_close (int *fd)
{
  close_fdp (fd);
}

/* ------------------------------------------------------------------------------------ */
/* Ready pipe                                                                             */
/* ------------------------------------------------------------------------------------ */

static void
ready_send (const char *line, size_t len)
{
  if (S.ready_fd < 0)
    return;
  /* The starter may be gone already (EPIPE, SIGPIPE is ignored): nothing to do then. */
  write_all (S.ready_fd, line, len);
  close_fdp (&S.ready_fd);
}

static void
ready_ok (void)
{
  char line[96];
  struct sbuf b = { line, 0, sizeof line };

  sb_str (&b, "{\"ok\":true,\"pid\":");
  sb_int (&b, S.init_pid);
  sb_str (&b, ",\"shimPid\":");
  sb_int (&b, S.self);
  sb_str (&b, "}\n");
  ready_send (line, b.len);
}

static void
ready_error (const char *step, int errnum, const char *message)
{
  char line[RESULT_MAX * 2 + 128];
  struct sbuf b = { line, 0, sizeof line - 2 };

  sb_str (&b, "{\"ok\":false,\"step\":");
  sb_json (&b, step);
  sb_str (&b, ",\"errno\":");
  sb_int (&b, errnum);
  sb_str (&b, ",\"message\":");
  sb_json (&b, message);
  b.cap += 2; /* room kept for the end of the object even when the message was cut */
  sb_str (&b, "}\n");
  ready_send (line, b.len);
}

/* ------------------------------------------------------------------------------------ */
/* Console log                                                                            */
/* ------------------------------------------------------------------------------------ */

static void
log_name (char *buf, size_t size, unsigned index)
{
  struct sbuf b = { buf, 0, size };

  sb_str (&b, LOG_NAME);
  if (index > 0)
    {
      sb_str (&b, ".");
      sb_int (&b, index);
    }
}

static int
log_open (struct shim_error *err)
{
  struct stat st;

  S.log_fd = open (LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (S.log_fd < 0)
    return shim_fail (err, errno, "open '%s/%s'", S.box_dir, LOG_NAME);
  if (fstat (S.log_fd, &st) < 0)
    return shim_fail (err, errno, "stat '%s/%s'", S.box_dir, LOG_NAME);
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
  close_fdp (&S.log_fd);
  S.log_fd = open (LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   0640);
  S.log_size = 0;
}

/* Appends box output to the log, rotating exactly at log_max bytes. A failing write
 * (ENOSPC, ...) loses that output but never stops the box. */
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

/* ------------------------------------------------------------------------------------ */
/* Box input                                                                              */
/* ------------------------------------------------------------------------------------ */

static void
client_events (struct client *c)
{
  uint32_t events = (c->input_eof || S.pending_len > 0) ? 0 : EPOLLIN;

  ep_set (EPOLL_CTL_MOD, c->fd, events, TAG_CLIENT + (c - clients));
}

/* While pending[] holds input the box has not taken, attach clients are not read (the
 * box's stdin pushes back on them) and in_fd is waited on for room. */
static void
stdin_wait (bool on)
{
  if (S.terminal)
    {
      if (S.out_fd >= 0)
        ep_set (EPOLL_CTL_MOD, S.out_fd, EPOLLIN | (on ? EPOLLOUT : 0), TAG_OUTPUT);
    }
  else if (S.in_fd >= 0 && on != S.in_polled)
    ep_set (on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, S.in_fd, EPOLLOUT, TAG_STDIN);
  S.in_polled = on;
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].kind == CLIENT_ATTACH)
      client_events (&clients[i]);
}

/* The box's stdin is gone (its reader closed it, or init exited): input is dropped. */
static void
stdin_lost (void)
{
  S.pending_len = 0;
  stdin_wait (false);
  if (S.terminal)
    S.in_fd = -1; /* the same fd as out_fd, which stays for the output */
  else
    ep_close (&S.in_fd);
}

static void
stdin_flush (void)
{
  ssize_t n;

  if (S.in_fd < 0 || S.pending_len == 0)
    return;
  n = write (S.in_fd, pending, S.pending_len);
  if (n < 0)
    {
      if (errno != EAGAIN && errno != EINTR)
        stdin_lost ();
      return;
    }
  S.pending_len -= n;
  memmove (pending, pending + n, S.pending_len);
  if (S.pending_len == 0)
    stdin_wait (false);
}

static void
stdin_feed (const char *data, size_t len)
{
  ssize_t n = 0;

  if (S.in_fd < 0 || len == 0)
    return;
  if (S.pending_len == 0)
    {
      n = write (S.in_fd, data, len);
      if (n < 0)
        {
          if (errno != EAGAIN && errno != EINTR)
            {
              stdin_lost ();
              return;
            }
          n = 0;
        }
      if ((size_t) n == len)
        return;
    }
  data += n;
  len -= n;
  if (len > sizeof pending - S.pending_len)
    len = sizeof pending - S.pending_len; /* only when a command line carried extra input */
  memcpy (pending + S.pending_len, data, len);
  if (S.pending_len == 0 && len > 0)
    {
      S.pending_len = len;
      stdin_wait (true);
    }
  else
    S.pending_len += len;
}

/* ------------------------------------------------------------------------------------ */
/* Box output                                                                             */
/* ------------------------------------------------------------------------------------ */

/* Copies output to attach clients without ever blocking the box on them: what a client's
 * socket buffer cannot take now is lost for that client. */
static void
clients_broadcast (const char *data, size_t len)
{
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].kind == CLIENT_ATTACH)
      send (clients[i].fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void
output_closed (void)
{
  if (S.terminal)
    {
      S.pending_len = 0;
      S.in_polled = false;
      S.in_fd = -1;
    }
  ep_close (&S.out_fd);
  if (S.terminal)
    for (int i = 0; i < MAX_CLIENTS; i++)
      if (clients[i].kind == CLIENT_ATTACH)
        client_events (&clients[i]);
}

static void
output_read (void)
{
  /* A few reads per wakeup keep the loop fair to the socket when the box floods. */
  for (int i = 0; i < 8 && S.out_fd >= 0; i++)
    {
      ssize_t n = read (S.out_fd, io_buf, sizeof io_buf);
      if (n > 0)
        {
          log_write (io_buf, n);
          clients_broadcast (io_buf, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      /* EOF, or EIO from a pty master once every slave fd is closed. */
      output_closed ();
    }
}

/* ------------------------------------------------------------------------------------ */
/* Command socket                                                                         */
/* ------------------------------------------------------------------------------------ */

static void
client_close (struct client *c)
{
  ep_close (&c->fd);
  c->kind = CLIENT_FREE;
}

static void
client_reply (struct client *c, const char *text, size_t len)
{
  send (c->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  client_close (c);
}

static void
client_reply_str (struct client *c, const char *text)
{
  client_reply (c, text, strlen (text));
}

static void
client_error (struct client *c, const char *what, int errnum)
{
  char text[160];
  struct sbuf b = { text, 0, sizeof text - 1 };

  sb_str (&b, "error ");
  sb_str (&b, what);
  if (errnum)
    {
      sb_str (&b, ": ");
      sb_str (&b, strerror (errnum));
    }
  b.cap++;
  sb_str (&b, "\n");
  client_reply (c, text, b.len);
}

static void
cmd_status (struct client *c)
{
  char text[48];
  struct sbuf b = { text, 0, sizeof text };

  if (S.state == BOX_RUNNING)
    {
      sb_str (&b, "running ");
      sb_int (&b, S.init_pid);
    }
  else if (S.state == BOX_EXITED && WIFSIGNALED (S.init_status))
    {
      sb_str (&b, "signaled ");
      sb_int (&b, WTERMSIG (S.init_status));
    }
  else if (S.state == BOX_EXITED)
    {
      sb_str (&b, "exited ");
      sb_int (&b, WEXITSTATUS (S.init_status));
    }
  else
    sb_str (&b, "starting");
  sb_str (&b, "\n");
  client_reply (c, text, b.len);
}

static void
cmd_signal (struct client *c, const char *args)
{
  uint64_t sig;

  if (!parse_uint (&args, 64, &sig) || *args != '\0')
    return client_error (c, "usage: signal N (0-64)", 0);
  if (S.state != BOX_RUNNING)
    return client_error (c, "the box is not running", 0);
  /* init is our child (or the launcher's, before it exits): its pid cannot be reused
   * until we reap it, and we stop accepting `signal` from then on. */
  if (kill (S.init_pid, (int) sig) < 0)
    return client_error (c, "kill", errno);
  client_reply_str (c, "ok\n");
}

static void
cmd_resize (struct client *c, const char *args)
{
  uint64_t rows, cols;
  struct winsize ws = { 0 };

  if (!parse_uint (&args, 65535, &rows) || *args++ != ' ' || !parse_uint (&args, 65535, &cols)
      || *args != '\0')
    return client_error (c, "usage: resize ROWS COLS", 0);
  if (!S.terminal)
    return client_error (c, "the box has no terminal", 0);
  if (S.out_fd < 0)
    return client_error (c, "the box's terminal is closed", 0);
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (ioctl (S.out_fd, TIOCSWINSZ, &ws) < 0)
    return client_error (c, "TIOCSWINSZ", errno);
  client_reply_str (c, "ok\n");
}

static void
cmd_attach (struct client *c, const char *rest, size_t rest_len)
{
  if (S.state != BOX_RUNNING)
    return client_error (c, "the box is not running", 0);
  c->kind = CLIENT_ATTACH;
  c->deadline = 0;
  client_events (c);
  /* Input sent right behind the command line, in the same packet. */
  stdin_feed (rest, rest_len);
}

static void
client_command (struct client *c, size_t line_len)
{
  char *line = c->line;
  const char *rest = line + line_len + 1;
  size_t rest_len = c->len > line_len ? c->len - line_len - 1 : 0;

  line[line_len] = '\0';
  if (line_len > 0 && line[line_len - 1] == '\r')
    line[--line_len] = '\0';

  if (strcmp (line, "status") == 0)
    cmd_status (c);
  else if (strncmp (line, "signal ", 7) == 0)
    cmd_signal (c, line + 7);
  else if (strncmp (line, "resize ", 7) == 0)
    cmd_resize (c, line + 7);
  else if (strcmp (line, "attach") == 0)
    cmd_attach (c, rest, rest_len);
  else
    client_error (c, "unknown command", 0);
}

static void
client_read_command (struct client *c, uint32_t events)
{
  ssize_t n;
  char *nl;

  n = read (c->fd, c->line + c->len, sizeof c->line - 1 - c->len);
  if (n < 0)
    {
      if (errno != EAGAIN && errno != EINTR)
        client_close (c);
      return;
    }
  c->len += n;
  c->line[c->len] = '\0';
  nl = memchr (c->line, '\n', c->len);
  if (nl)
    return client_command (c, nl - c->line);
  if (n == 0 || (events & EPOLLHUP))
    {
      /* EOF: a command without its newline is still a command. */
      if (c->len > 0)
        return client_command (c, c->len);
      return client_close (c);
    }
  if (c->len == sizeof c->line - 1)
    client_error (c, "command line too long", 0);
}

static void
client_read_input (struct client *c)
{
  ssize_t n;

  if (c->input_eof || S.pending_len > 0)
    return;
  n = read (c->fd, io_buf, sizeof pending);
  if (n > 0)
    return stdin_feed (io_buf, n);
  if (n == 0)
    {
      /* Half-closed: keep sending it output until it goes (EPOLLHUP). */
      c->input_eof = true;
      client_events (c);
      return;
    }
  if (errno != EAGAIN && errno != EINTR)
    client_close (c);
}

static void
client_event (struct client *c, uint32_t events)
{
  if (c->kind == CLIENT_COMMAND)
    client_read_command (c, events);
  else if (c->kind == CLIENT_ATTACH && (events & EPOLLIN))
    client_read_input (c);
  if (c->kind != CLIENT_FREE && (events & (EPOLLHUP | EPOLLERR)))
    client_close (c);
}

static void
clients_accept (void)
{
  for (;;)
    {
      struct client *c = NULL;
      int fd = accept4 (S.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

      if (fd < 0)
        return; /* EAGAIN, or a connection that went away */
      for (int i = 0; i < MAX_CLIENTS && !c; i++)
        if (clients[i].kind == CLIENT_FREE)
          c = &clients[i];
      if (!c)
        {
          send (fd, "error busy\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
          close (fd);
          continue;
        }
      c->fd = fd;
      c->kind = CLIENT_COMMAND;
      c->input_eof = false;
      c->len = 0;
      c->deadline = now_ms (CLOCK_MONOTONIC) + CMD_TIMEOUT_MS;
      if (ep_set (EPOLL_CTL_ADD, fd, EPOLLIN, TAG_CLIENT + (c - clients)) < 0)
        client_close (c);
    }
}

static void
clients_close_all (void)
{
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].kind != CLIENT_FREE)
      client_close (&clients[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Processes                                                                              */
/* ------------------------------------------------------------------------------------ */

static void
start_failed (const char *step, int errnum, const char *message)
{
  S.state = BOX_FAILED;
  S.deadline = now_ms (CLOCK_MONOTONIC) + FAIL_WAIT_MS;
  ready_error (step, errnum, message);
  ep_close (&S.result_fd);
}

static void
box_started (pid_t pid)
{
  struct shim_error err = { 0 };

  S.init_pid = pid;
  if (write_pid_file ("init.pid", pid, &err) < 0)
    {
      kill (pid, SIGKILL);
      return start_failed ("shim", err.errnum, err.msg);
    }
  if (ep_set (EPOLL_CTL_ADD, S.listen_fd, EPOLLIN, TAG_LISTEN) < 0)
    {
      shim_fail (&err, errno, "epoll_ctl");
      kill (pid, SIGKILL);
      return start_failed ("shim", err.errnum, err.msg);
    }
  S.state = BOX_RUNNING;
  ep_close (&S.result_fd);
  ready_ok ();
}

/* `ok PID` or `error STEP ERRNO MESSAGE` (PROTOCOL.md §1). */
static void
result_line (char *line)
{
  const char *p;
  uint64_t v;

  if (strncmp (line, "ok ", 3) == 0)
    {
      p = line + 3;
      if (parse_uint (&p, INT_MAX, &v) && *p == '\0' && v > 0)
        return box_started ((pid_t) v);
    }
  else if (strncmp (line, "error ", 6) == 0)
    {
      char *step = line + 6;
      char *sp = strchr (step, ' ');
      if (sp)
        {
          *sp = '\0';
          p = sp + 1;
          if (parse_uint (&p, INT_MAX, &v))
            return start_failed (step, (int) v, *p == ' ' ? p + 1 : p);
        }
    }
  /* Anything else: report it as it came. */
  {
    char msg[RESULT_MAX + 64];
    struct sbuf b = { msg, 0, sizeof msg };
    sb_str (&b, "unexpected launcher result: ");
    sb_str (&b, line);
    start_failed ("launcher", 0, msg);
  }
}

/* Reads what the launcher wrote on the result pipe; acts on the first complete line. */
static void
result_read (void)
{
  while (S.state == BOX_STARTING && S.result_fd >= 0)
    {
      char *nl;
      ssize_t n = read (S.result_fd, result_buf + S.result_len, RESULT_MAX - S.result_len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n > 0)
        {
          S.result_len += n;
          result_buf[S.result_len] = '\0';
          nl = memchr (result_buf, '\n', S.result_len);
          if (nl || S.result_len == RESULT_MAX)
            {
              if (nl)
                *nl = '\0';
              return result_line (result_buf);
            }
          continue;
        }
      /* EOF (or an error): a last line without its newline still counts. */
      ep_close (&S.result_fd);
      if (S.result_len > 0)
        result_line (result_buf);
      return;
    }
}

/* The launcher exited without a result (crashed, or killed). */
static void
launcher_vanished (void)
{
  char msg[96];
  struct sbuf b = { msg, 0, sizeof msg };
  int st = S.launcher_status;

  if (WIFSIGNALED (st))
    {
      sb_str (&b, "the launcher was killed by signal ");
      sb_int (&b, WTERMSIG (st));
    }
  else
    {
      sb_str (&b, "the launcher exited with status ");
      sb_int (&b, WEXITSTATUS (st));
    }
  sb_str (&b, " without a result");
  start_failed ("launcher", 0, msg);
}

static void
init_exited (int status)
{
  S.state = BOX_EXITED;
  S.init_status = status;
  S.exited_at = now_ms (CLOCK_REALTIME);
  S.deadline = now_ms (CLOCK_MONOTONIC) + DRAIN_MS;
  /* The listener stays for `status`; input has nowhere to go any more. */
  stdin_lost ();
}

/* Reaps every child that has exited: the launcher, init, and orphans of the box that were
 * re-parented to us. */
static void
reap (void)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);

      if (pid < 0 && errno == EINTR)
        continue;
      if (pid <= 0)
        {
          S.children_left = pid == 0 || errno != ECHILD;
          return;
        }
      if (pid == S.launcher_pid)
        {
          S.launcher_reaped = true;
          S.launcher_status = status;
          /* The launcher wrote its result before exiting: it is all in the pipe. */
          result_read ();
          if (S.state == BOX_STARTING)
            launcher_vanished ();
          continue;
        }
      /* init becomes our child only once the launcher has exited, hence after its result
       * was written: read it before deciding who this was. */
      if (S.state == BOX_STARTING)
        result_read ();
      if (S.state == BOX_RUNNING && pid == S.init_pid)
        init_exited (status);
    }
}

static void
signals_read (void)
{
  struct signalfd_siginfo si;

  while (read (S.signal_fd, &si, sizeof si) == sizeof si)
    ;
  reap ();
}

/* After a failed start, whatever the launcher left behind was re-parented to us: kill our
 * children by pid. They are unreaped children, so their pids cannot have been reused. */
static void
kill_children (void)
{
  char path[64];
  struct sbuf b = { path, 0, sizeof path };
  cleanup_fd int fd = -1;
  ssize_t n;
  const char *p;

  sb_str (&b, "/proc/self/task/");
  sb_int (&b, S.self);
  sb_str (&b, "/children");
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read (fd, io_buf, sizeof io_buf - 1);
  if (n <= 0)
    return;
  io_buf[n] = '\0';
  for (p = io_buf; *p;)
    {
      uint64_t pid;
      if (*p == ' ' || *p == '\n')
        p++;
      else if (parse_uint (&p, INT_MAX, &pid))
        kill ((pid_t) pid, SIGKILL);
      else
        break;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Setup                                                                                  */
/* ------------------------------------------------------------------------------------ */

static int
parse_size (const char *text, uint64_t max, uint64_t *out)
{
  uint64_t v = 0, unit = 1;
  const char *s = text;

  if (*s < '0' || *s > '9')
    return -1;
  for (; *s >= '0' && *s <= '9'; s++)
    {
      if (v > (UINT64_MAX - 9) / 10)
        return -1;
      v = v * 10 + (*s - '0');
    }
  switch (*s)
    {
    case 'k': case 'K': unit = 1ULL << 10; s++; break;
    case 'm': case 'M': unit = 1ULL << 20; s++; break;
    case 'g': case 'G': unit = 1ULL << 30; s++; break;
    default: break;
    }
  if (*s != '\0' || v > max / unit)
    return -1;
  *out = v * unit;
  return 0;
}

static int
parse_args (int argc, char **argv, struct shim_error *err)
{
  const char *launcher = NULL;

  for (int i = 1; i < argc; i++)
    {
      static const char *const with_value[] = { "--box-dir", "--launcher", "--log-max",
                                                "--log-keep" };
      const char *arg = argv[i], *value = NULL;
      int opt = -1;
      uint64_t n;

      if (strcmp (arg, "--terminal") == 0)
        {
          S.terminal = true;
          continue;
        }
      for (int k = 0; k < 4 && opt < 0; k++)
        {
          size_t len = strlen (with_value[k]);
          if (strncmp (arg, with_value[k], len) != 0)
            continue;
          if (arg[len] == '=')
            value = arg + len + 1, opt = k;
          else if (arg[len] == '\0' && i + 1 < argc)
            value = argv[++i], opt = k;
          else if (arg[len] == '\0')
            return shim_fail (err, EINVAL, "option %s needs a value", arg);
        }
      switch (opt)
        {
        case 0:
          S.box_dir = value;
          break;
        case 1:
          launcher = value;
          break;
        case 2:
          if (parse_size (value, UINT64_MAX, &n) < 0)
            return shim_fail (err, EINVAL, "--log-max: not a size: '%s'", value);
          S.log_max = n;
          break;
        case 3:
          if (parse_size (value, LOG_KEEP_MAX, &n) < 0)
            return shim_fail (err, EINVAL, "--log-keep: not a count (0-%d): '%s'", LOG_KEEP_MAX,
                              value);
          S.log_keep = n;
          break;
        default:
          return shim_fail (err, EINVAL, "unknown argument '%s'", arg);
        }
    }
  if (!S.box_dir || !launcher)
    return shim_fail (err, EINVAL,
                      "usage: nsbox-shim --box-dir DIR --launcher PATH [--terminal] "
                      "[--log-max BYTES] [--log-keep N]");
  /* Resolved now: the launcher is executed from `/`, and we move into the box dir. */
  if (!realpath (launcher, S.launcher))
    return shim_fail (err, errno, "launcher '%s'", launcher);
  return 0;
}

static int
signals_setup (struct shim_error *err)
{
  static const int ignored[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
  struct sigaction sa = { .sa_handler = SIG_IGN };
  sigset_t mask;

  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
    sigaction (ignored[i], &sa, NULL);
  /* An inherited SIG_IGN on SIGCHLD would make the kernel reap our children for us. */
  sa.sa_handler = SIG_DFL;
  sigaction (SIGCHLD, &sa, NULL);

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  if (sigprocmask (SIG_BLOCK, &mask, NULL) < 0)
    return shim_fail (err, errno, "sigprocmask");
  S.signal_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (S.signal_fd < 0)
    return shim_fail (err, errno, "signalfd");
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return shim_fail (err, errno, "prctl PR_SET_CHILD_SUBREAPER");
  return 0;
}

static int
socket_setup (struct shim_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  mode_t old_umask;
  int ret;

  memcpy (addr.sun_path, SOCK_NAME, sizeof SOCK_NAME); /* relative to the box dir */
  if (unlink (SOCK_NAME) < 0 && errno != ENOENT)
    return shim_fail (err, errno, "unlink '%s/%s'", S.box_dir, SOCK_NAME);
  S.listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (S.listen_fd < 0)
    return shim_fail (err, errno, "socket");
  old_umask = umask (0177);
  ret = bind (S.listen_fd, (struct sockaddr *) &addr, sizeof addr);
  umask (old_umask);
  if (ret < 0)
    return shim_fail (err, errno, "bind '%s/%s'", S.box_dir, SOCK_NAME);
  if (chmod (SOCK_NAME, 0600) < 0)
    return shim_fail (err, errno, "chmod '%s/%s'", S.box_dir, SOCK_NAME);
  /* Connections made before the box is up wait in the backlog: the listener joins the
   * loop once init runs. */
  if (listen (S.listen_fd, MAX_CLIENTS) < 0)
    return shim_fail (err, errno, "listen '%s/%s'", S.box_dir, SOCK_NAME);
  return 0;
}

static int
set_nonblock (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  return flags < 0 ? -1 : fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

/* The box's stdio, as the launcher gets it. */
struct box_stdio
{
  int in, out, err;
};

static void
box_stdio_close (struct box_stdio *io)
{
  if (io->err != io->out)
    close_fdp (&io->err);
  if (io->in != io->out)
    close_fdp (&io->in);
  close_fdp (&io->out);
  io->in = io->err = -1;
}

/* A pty (the slave is the box's stdin, stdout and stderr; the launcher makes it init's
 * controlling terminal), or a stdin pipe we hold the write end of and one output pipe
 * shared by stdout and stderr, so that the log keeps their order. */
static int
stdio_setup (struct box_stdio *io, struct shim_error *err)
{
  if (S.terminal)
    {
      int unlock = 0;
      struct winsize ws = { .ws_row = 24, .ws_col = 80 };
      int slave;

      S.out_fd = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
      if (S.out_fd < 0)
        return shim_fail (err, errno, "open '/dev/ptmx'");
      S.in_fd = S.out_fd;
      if (ioctl (S.out_fd, TIOCSPTLCK, &unlock) < 0)
        return shim_fail (err, errno, "unlock pty");
      ioctl (S.out_fd, TIOCSWINSZ, &ws);
      slave = ioctl (S.out_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (slave < 0)
        return shim_fail (err, errno, "open pty slave");
      io->in = io->out = io->err = slave;
      return 0;
    }
  else
    {
      int in[2], out[2];

      if (pipe2 (in, O_CLOEXEC) < 0)
        return shim_fail (err, errno, "pipe");
      io->in = in[0];
      S.in_fd = in[1];
      if (pipe2 (out, O_CLOEXEC) < 0)
        return shim_fail (err, errno, "pipe");
      S.out_fd = out[0];
      io->out = io->err = out[1];
      if (set_nonblock (S.in_fd) < 0 || set_nonblock (S.out_fd) < 0)
        return shim_fail (err, errno, "fcntl O_NONBLOCK");
      return 0;
    }
}

/* In the child: fd 0-2 = the box's stdio, 3 = the program, 4 = the result pipe, default
 * signal handling, its own session, cwd `/`; then the launcher. */
static void __attribute__ ((noreturn))
launcher_exec (const struct box_stdio *io, int result_w)
{
  static const int reset[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
  const int want[5] = { io->in, io->out, io->err, 3, result_w };
  int tmp[5];
  int report_fd = result_w;
  const char *what = "setup";
  char *argv[] = { S.launcher, NULL };
  struct sigaction sa = { .sa_handler = SIG_DFL };
  sigset_t none;

  for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
    sigaction (reset[i], &sa, NULL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (setsid () < 0)
    {
      what = "setsid";
      goto fail;
    }
  /* Out of the way first, so that no target fd is overwritten before it was moved. */
  for (int i = 0; i < 5; i++)
    if ((tmp[i] = fcntl (want[i], F_DUPFD_CLOEXEC, 5)) < 0)
      {
        what = "dup";
        goto fail;
      }
  for (int i = 0; i < 5; i++)
    if (dup2 (tmp[i], i) < 0) /* dup2 clears FD_CLOEXEC */
      {
        what = "dup2";
        goto fail;
      }
  report_fd = 4;
  close_range (5, ~0U, 0);
  if (chdir ("/") < 0)
    {
      what = "chdir /";
      goto fail;
    }
  execve (S.launcher, argv, environ);
  what = "exec";

fail:
  {
    int e = errno;
    char line[PATH_MAX + 160];
    struct sbuf b = { line, 0, sizeof line - 1 };

    sb_str (&b, "error shim ");
    sb_int (&b, e);
    sb_str (&b, " ");
    sb_str (&b, what);
    sb_str (&b, " '");
    sb_str (&b, S.launcher);
    sb_str (&b, "': ");
    sb_str (&b, strerror (e));
    b.cap++;
    sb_str (&b, "\n");
    write_all (report_fd, line, b.len);
    _exit (127);
  }
}

static int
launcher_spawn (struct box_stdio *io, struct shim_error *err)
{
  int result[2];
  pid_t pid;

  if (pipe2 (result, O_CLOEXEC) < 0)
    return shim_fail (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (result[0]);
      close (result[1]);
      return shim_fail (err, e, "fork");
    }
  if (pid == 0)
    launcher_exec (io, result[1]);

  S.launcher_pid = pid;
  S.result_fd = result[0];
  close (result[1]);
  box_stdio_close (io);
  close (3); /* the program is the launcher's now */
  set_nonblock (S.result_fd);
  if (ep_set (EPOLL_CTL_ADD, S.result_fd, EPOLLIN, TAG_RESULT) < 0)
    return shim_fail (err, errno, "epoll_ctl");
  return 0;
}

static int
setup (int argc, char **argv, struct shim_error *err)
{
  struct box_stdio io = { -1, -1, -1 };
  int ret;

  S.self = getpid ();
  if (fcntl (3, F_GETFD) < 0)
    return shim_fail (err, EBADF, "fd 3 (the launch program) is not open");
  if (parse_args (argc, argv, err) < 0)
    return -1;
  if (signals_setup (err) < 0)
    return -1;
  if (chdir (S.box_dir) < 0)
    return shim_fail (err, errno, "chdir '%s'", S.box_dir);
  if (write_pid_file ("shim.pid", S.self, err) < 0)
    return -1;
  if (log_open (err) < 0)
    return -1;
  if (socket_setup (err) < 0)
    return -1;
  S.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (S.epoll_fd < 0)
    return shim_fail (err, errno, "epoll_create1");
  if (ep_set (EPOLL_CTL_ADD, S.signal_fd, EPOLLIN, TAG_SIGNAL) < 0)
    return shim_fail (err, errno, "epoll_ctl");
  ret = stdio_setup (&io, err);
  if (ret == 0 && ep_set (EPOLL_CTL_ADD, S.out_fd, EPOLLIN, TAG_OUTPUT) < 0)
    ret = shim_fail (err, errno, "epoll_ctl");
  if (ret == 0)
    ret = launcher_spawn (&io, err);
  box_stdio_close (&io);
  return ret;
}

/* ------------------------------------------------------------------------------------ */
/* Main loop                                                                              */
/* ------------------------------------------------------------------------------------ */

static int
finish_exited (void)
{
  char json[96];
  struct sbuf b = { json, 0, sizeof json };
  struct shim_error err = { 0 };
  int rc = 0;

  if (WIFSIGNALED (S.init_status))
    {
      sb_str (&b, "{\"signal\":");
      sb_int (&b, WTERMSIG (S.init_status));
    }
  else
    {
      sb_str (&b, "{\"exitCode\":");
      sb_int (&b, WEXITSTATUS (S.init_status));
    }
  sb_str (&b, ",\"at\":");
  sb_int (&b, S.exited_at);
  sb_str (&b, "}\n");
  close_fdp (&S.log_fd);
  if (write_file_atomic ("exit.json", json, b.len, &err) < 0)
    {
      dprintf (2, "nsbox-shim: %s\n", err.msg);
      rc = 1;
    }
  unlink (SOCK_NAME);
  clients_close_all ();
  reap ();
  return rc;
}

static int
finish_failed (void)
{
  unlink (SOCK_NAME);
  return 1;
}

static int
loop_timeout (int64_t now)
{
  int64_t next = S.deadline;

  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].kind == CLIENT_COMMAND && (next == 0 || clients[i].deadline < next))
      next = clients[i].deadline;
  if (next == 0)
    return -1;
  return next <= now ? 0 : (int) (next - now);
}

static void
dispatch (uint64_t tag, uint32_t events)
{
  if (tag >= TAG_CLIENT && tag < TAG_CLIENT + MAX_CLIENTS)
    {
      struct client *c = &clients[tag - TAG_CLIENT];
      if (c->kind != CLIENT_FREE)
        client_event (c, events);
      return;
    }
  switch (tag)
    {
    case TAG_SIGNAL:
      signals_read ();
      break;
    case TAG_RESULT:
      result_read ();
      break;
    case TAG_OUTPUT:
      if ((events & EPOLLOUT) && S.pending_len > 0)
        stdin_flush ();
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        output_read ();
      break;
    case TAG_STDIN:
      if (events & EPOLLERR)
        stdin_lost (); /* nobody reads the box's stdin any more */
      else
        stdin_flush ();
      break;
    case TAG_LISTEN:
      if (S.state == BOX_RUNNING || S.state == BOX_EXITED)
        clients_accept ();
      break;
    default:
      break;
    }
}

static int
loop (void)
{
  static struct epoll_event events[MAX_EVENTS];

  for (;;)
    {
      int64_t now = now_ms (CLOCK_MONOTONIC);
      int n;

      if (S.state == BOX_EXITED && (S.out_fd < 0 || now >= S.deadline))
        return finish_exited ();
      if (S.state == BOX_FAILED)
        {
          if (S.launcher_reaped && !S.children_left)
            return finish_failed ();
          if (S.launcher_reaped)
            kill_children ();
          if (now >= S.deadline)
            {
              if (S.last_round)
                return finish_failed ();
              /* The launcher did not clean up in time: do it for it, then give up. */
              if (!S.launcher_reaped)
                kill (S.launcher_pid, SIGKILL);
              kill_children ();
              S.last_round = true;
              S.deadline = now + DRAIN_MS;
            }
        }
      for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].kind == CLIENT_COMMAND && clients[i].deadline <= now)
          client_close (&clients[i]);

      n = epoll_wait (S.epoll_fd, events, MAX_EVENTS, loop_timeout (now));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          dprintf (2, "nsbox-shim: epoll_wait: %s\n", strerror (errno));
          return 1;
        }
      for (int i = 0; i < n; i++)
        dispatch (events[i].data.u64, events[i].events);
    }
}

int
main (int argc, char **argv)
{
  struct shim_error err = { 0 };

  /* fd 0-2 are /dev/null, 3 the program, 4 the ready pipe; nothing else is ours. */
  close_range (5, ~0U, 0);
  for (int fd = 0; fd < 3; fd++)
    if (fcntl (fd, F_GETFD) < 0)
      {
        int null = open ("/dev/null", O_RDWR);
        if (null >= 0 && null != fd)
          {
            dup2 (null, fd);
            close (null);
          }
      }
  S.ready_fd = fcntl (4, F_DUPFD_CLOEXEC, 5);
  if (S.ready_fd < 0)
    dprintf (2, "nsbox-shim: fd 4 (the ready pipe) is not open\n");
  close (4);

  if (setup (argc, argv, &err) < 0)
    {
      if (S.ready_fd < 0)
        dprintf (2, "nsbox-shim: %s\n", err.msg);
      ready_error ("shim", err.errnum, err.msg);
      if (S.launcher_pid > 0)
        {
          kill (S.launcher_pid, SIGKILL);
          waitpid (S.launcher_pid, NULL, 0);
        }
      if (S.listen_fd >= 0)
        unlink (SOCK_NAME);
      return 1;
    }
  return loop ();
}
