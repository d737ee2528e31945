/* nsbox console: a box with a terminal (--terminal) can be attached to. The shim listens on
 * DIR/console.sock (0600: host root only) and relays one attached client at a time: what the
 * box writes goes to the log, as always, and to the client; what the client writes goes to the
 * box's pty. A second client while one is attached is closed at once (lxc-console's rule:
 * one console user). A client that cannot keep up loses output, never the box or the log. */

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

#define CONSOLE_SOCKET "console.sock"

int
shim_console_setup (struct nsbox_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

  S.console_listen_fd = S.console_client_fd = -1;
  if (!S.terminal)
    return 0;
  /* Relative to the box dir (our cwd), as notify.sock. */
  memcpy (addr.sun_path, CONSOLE_SOCKET, sizeof CONSOLE_SOCKET);
  unlink (CONSOLE_SOCKET);
  S.console_listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (S.console_listen_fd < 0)
    return nsbox_fail (err, errno, "socket");
  if (bind (S.console_listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return nsbox_fail (err, errno, "bind '%s'", CONSOLE_SOCKET);
  chmod (CONSOLE_SOCKET, 0600);
  if (listen (S.console_listen_fd, 2) < 0)
    return nsbox_fail (err, errno, "listen '%s'", CONSOLE_SOCKET);
  if (shim_epoll_add (S.console_listen_fd, EPOLLIN, TAG_CONSOLE_ACCEPT) < 0)
    return nsbox_fail (err, errno, "epoll_ctl");
  return 0;
}

static void
detach (void)
{
  if (S.console_client_fd >= 0)
    epoll_ctl (S.epoll_fd, EPOLL_CTL_DEL, S.console_client_fd, NULL);
  nsbox_close (&S.console_client_fd);
}

void
shim_console_accept (void)
{
  for (;;)
    {
      int fd = accept4 (S.console_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0)
        return;
      if (S.console_client_fd >= 0 || S.in_fd < 0 || shim_epoll_add (fd, EPOLLIN, TAG_CONSOLE_CLIENT) < 0)
        {
          static const char busy[] = "nsbox: the console is in use (or the box has ended)\r\n";
          (void) !write (fd, busy, sizeof busy - 1);
          close (fd);
          continue;
        }
      S.console_client_fd = fd;
    }
}

/* Client → box: a read, written to the pty master (a full pty drops what does not fit). */
void
shim_console_input (uint32_t events)
{
  for (int i = 0; i < 8; i++)
    {
      ssize_t n = read (S.console_client_fd, shim_io_buf, sizeof shim_io_buf);
      if (n > 0)
        {
          if (S.in_fd >= 0)
            (void) !write (S.in_fd, shim_io_buf, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN && !(events & (EPOLLHUP | EPOLLERR)))
        return;
      detach ();
      return;
    }
}

/* Box → client, beside the log. */
void
shim_console_output (const char *data, size_t len)
{
  if (S.console_client_fd < 0)
    return;
  if (write (S.console_client_fd, data, len) < 0 && errno != EAGAIN && errno != EINTR)
    detach ();
}

/* The box ended: the attached client sees its socket close. */
void
shim_console_stop (void)
{
  detach ();
  if (S.console_listen_fd >= 0)
    epoll_ctl (S.epoll_fd, EPOLL_CTL_DEL, S.console_listen_fd, NULL);
  nsbox_close (&S.console_listen_fd);
  unlink (CONSOLE_SOCKET);
}
