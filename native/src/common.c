#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include "openat2.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

int
nsbox_fail (struct nsbox_error *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  size_t used;

  err->errnum = errnum;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  used = strlen (err->msg);
  if (errnum != 0 && used < sizeof err->msg)
    snprintf (err->msg + used, sizeof err->msg - used, ": %s", strerror (errnum));
  /* The result is one line: a path with a newline must not break it. */
  for (char *c = err->msg; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  return -1;
}

void
nsbox_error_step (struct nsbox_error *err, const char *step)
{
  if (err->step == NULL)
    err->step = step;
}

void
nsbox_error_format (const struct nsbox_error *err, char *buf, size_t size)
{
  snprintf (buf, size, "%s %d %s", err->step ? err->step : "launcher", err->errnum,
            err->msg[0] ? err->msg : "unknown error");
}

void
nsbox_error_parse (struct nsbox_error *err, const char *text, char *step_buf,
                   size_t step_size)
{
  const char *space = strchr (text, ' ');
  const char *msg;
  char *end;
  long errnum;

  if (space == NULL || (size_t) (space - text) >= step_size)
    {
      snprintf (step_buf, step_size, "launcher");
      err->step = step_buf;
      err->errnum = EPROTO;
      snprintf (err->msg, sizeof err->msg, "malformed error from the child: %s", text);
      return;
    }
  memcpy (step_buf, text, space - text);
  step_buf[space - text] = '\0';
  err->step = step_buf;
  errnum = strtol (space + 1, &end, 10);
  err->errnum = (int) errnum;
  msg = *end == ' ' ? end + 1 : end;
  snprintf (err->msg, sizeof err->msg, "%s", msg);
}

void
nsbox_cleanup_fd (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

void
nsbox_cleanup_free (void *ptr)
{
  void **p = ptr;
  int saved = errno;
  free (*p);
  errno = saved;
}

void
nsbox_close (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
      *fd = -1;
    }
}

int
nsbox_read_exact (int fd, void *buf, size_t len)
{
  char *p = buf;

  while (len > 0)
    {
      ssize_t n = read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= n;
    }
  return 0;
}

int
nsbox_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      p += n;
      len -= n;
    }
  return 0;
}

int
nsbox_write_file (const char *path, const char *content, size_t len, struct nsbox_error *err)
{
  cleanup_fd int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return nsbox_fail (err, errno, "open '%s'", path);
  /* One write(2): files like uid_map and timens_offsets accept a single write. */
  n = write (fd, content, len);
  if (n < 0)
    return nsbox_fail (err, errno, "write '%s'", path);
  if ((size_t) n != len)
    return nsbox_fail (err, EIO, "short write to '%s'", path);
  return 0;
}

ssize_t
nsbox_read_small_file (const char *path, char *buf, size_t size)
{
  cleanup_fd int fd = -1;
  size_t len = 0;

  if (path == NULL || size == 0)
    {
      errno = EINVAL;
      return -1;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  while (len < size - 1)
    {
      ssize_t n = read (fd, buf + len, size - 1 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      len += (size_t) n;
    }
  buf[len] = '\0';
  return (ssize_t) len;
}

int
nsbox_read_config_file (const char *path, char *buf, size_t size, struct nsbox_error *err)
{
  ssize_t len = nsbox_read_small_file (path, buf, size);

  if (len < 0)
    return nsbox_fail (err, errno, "read '%s'", path);
  if ((size_t) len == size - 1)
    return nsbox_fail (err, EFBIG, "'%s' is larger than %zu bytes", path, size - 2);
  return 0;
}

int
nsbox_read_all (int fd, size_t max, char **out, size_t *len, struct nsbox_error *err)
{
  cleanup_free char *buf = NULL;
  size_t size = 0, used = 0;

  for (;;)
    {
      ssize_t n;
      if (used + 1 >= size)
        {
          char *bigger;
          size = size ? size * 2 : 4096;
          bigger = realloc (buf, size);
          if (bigger == NULL)
            return nsbox_fail (err, ENOMEM, "read: allocate %zu bytes", size);
          buf = bigger;
        }
      n = read (fd, buf + used, size - used - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nsbox_fail (err, errno, "read fd %d", fd);
      if (n == 0)
        break;
      used += n;
      if (used > max)
        return nsbox_fail (err, EFBIG, "read fd %d: more than %zu bytes", fd, max);
    }
  buf[used] = '\0';
  *len = used;
  *out = buf;
  buf = NULL;
  return 0;
}

int
nsbox_parse_long (const char *text, long long min, long long max, long long *out)
{
  char *end;
  long long value;

  errno = 0;
  value = strtoll (text, &end, 10);
  if (errno != 0)
    return -1;
  if (end == text || *end != '\0')
    {
      errno = EINVAL;
      return -1;
    }
  if (value < min || value > max)
    {
      errno = ERANGE;
      return -1;
    }
  *out = value;
  return 0;
}

int
nsbox_open_in_root (int root_fd, const char *path, int flags, mode_t mode)
{
  struct open_how how = {
    .flags = (uint64_t) flags,
    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  /* An empty path or "/" means the root itself. */
  if (path[0] == '\0')
    path = "/";
  return nsbox_openat2 (root_fd, path, &how);
}

/* Creates one missing component `name` in dir_fd. Mode is exact: the launcher works
 * with umask 0 while it builds the rootfs. */
static int
create_component (int dir_fd, const char *name, bool as_file, mode_t mode,
                  const char *path, struct nsbox_error *err)
{
  if (strcmp (name, "..") == 0)
    return nsbox_fail (err, EINVAL, "create '%s': '..' in a path to create", path);
  if (as_file)
    {
      cleanup_fd int fd
          = openat (dir_fd, name, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0 && errno != EEXIST)
        return nsbox_fail (err, errno, "create file '%s'", path);
      return 0;
    }
  if (mkdirat (dir_fd, name, mode) < 0 && errno != EEXIST)
    return nsbox_fail (err, errno, "mkdir '%s'", path);
  return 0;
}

/* How many dangling symlinks a path may go through before it is ELOOP (as the kernel's 40). */
#define MAX_DANGLING 40

/* `dir/target/rest` for a dangling symlink met at the end of `dir/name`: the path to
 * resolve instead, inside the root (an absolute target starts at the root). */
static char *
through_link (const char *prefix, size_t dir_len, const char *target, const char *rest)
{
  char *path = NULL;

  if (target[0] == '/')
    dir_len = 0;
  if (asprintf (&path, "%.*s/%s%s%s", (int) dir_len, prefix, target, rest[0] ? "/" : "", rest) < 0)
    return NULL;
  return path;
}

static int
resolve_in_root (int root_fd, const char *path, enum nsbox_create create, mode_t mode,
                 int depth, struct nsbox_error *err)
{
  cleanup_free char *copy = NULL;
  cleanup_free char *prefix = NULL;
  cleanup_fd int cur = -1;
  char *save = NULL;
  size_t prefix_len = 0;
  int fd;

  fd = nsbox_open_in_root (root_fd, path, O_PATH | O_CLOEXEC, 0);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT || create == NSBOX_CREATE_NONE)
    return nsbox_fail (err, errno, "resolve '%s' in the root", path);

  /* Walk down from the root, creating what is missing. Every prefix is resolved again
   * from the root with RESOLVE_IN_ROOT, so a symlink met on the way is followed the way
   * the box would follow it (relative to its own root), never to the host. A dangling
   * symlink is followed the same way: what it names is created inside the root, as runc
   * and crun do. */
  copy = strdup (path);
  prefix = calloc (1, strlen (path) + 2);
  if (copy == NULL || prefix == NULL)
    return nsbox_fail (err, ENOMEM, "resolve '%s'", path);
  cur = nsbox_open_in_root (root_fd, "/", O_PATH | O_CLOEXEC, 0);
  if (cur < 0)
    return nsbox_fail (err, errno, "open the root");

  for (char *comp = strtok_r (copy, "/", &save); comp; comp = strtok_r (NULL, "/", &save))
    {
      char *next_comp;
      bool last;
      size_t dir_len = prefix_len;
      int next;

      if (strcmp (comp, ".") == 0)
        continue;
      /* strtok_r has written a NUL after comp: peek whether anything follows. */
      next_comp = save;
      while (next_comp && *next_comp == '/')
        next_comp++;
      last = next_comp == NULL || *next_comp == '\0';

      prefix[prefix_len++] = '/';
      strcpy (prefix + prefix_len, comp);
      prefix_len += strlen (comp);

      next = nsbox_open_in_root (root_fd, prefix, O_PATH | O_CLOEXEC, 0);
      if (next < 0 && errno == ENOENT)
        {
          char target[PATH_MAX];
          ssize_t len = readlinkat (cur, comp, target, sizeof target - 1);

          if (len >= 0)
            {
              cleanup_free char *redirected = NULL;

              if (depth >= MAX_DANGLING)
                return nsbox_fail (err, ELOOP, "resolve '%s' in the root", path);
              target[len] = '\0';
              redirected = through_link (prefix, dir_len, target, last ? "" : next_comp);
              if (redirected == NULL)
                return nsbox_fail (err, ENOMEM, "resolve '%s'", path);
              return resolve_in_root (root_fd, redirected, create, mode, depth + 1, err);
            }
          bool as_file = last && create == NSBOX_CREATE_FILE;
          if (create_component (cur, comp, as_file, last ? mode : 0755, path, err) < 0)
            return -1;
          next = nsbox_open_in_root (root_fd, prefix, O_PATH | O_CLOEXEC, 0);
        }
      if (next < 0)
        return nsbox_fail (err, errno, "resolve '%s' in the root", prefix);
      close (cur);
      cur = next;
    }
  return nsbox_steal_fd (&cur);
}

int
nsbox_resolve_in_root (int root_fd, const char *path, enum nsbox_create create, mode_t mode,
                       struct nsbox_error *err)
{
  return resolve_in_root (root_fd, path, create, mode, 0, err);
}

int
nsbox_resolve_parent_in_root (int root_fd, const char *path, bool create, char *name,
                              size_t name_size, struct nsbox_error *err)
{
  cleanup_free char *copy = strdup (path);
  char *slash, *base;
  size_t len;

  if (copy == NULL)
    return nsbox_fail (err, ENOMEM, "resolve '%s'", path);
  len = strlen (copy);
  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';
  slash = strrchr (copy, '/');
  base = slash ? slash + 1 : copy;
  if (strlen (base) >= name_size)
    return nsbox_fail (err, ENAMETOOLONG, "'%s'", path);
  snprintf (name, name_size, "%s", base);
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return nsbox_fail (err, EINVAL, "'%s' does not name an entry", path);
  if (slash)
    slash[1] = '\0';
  else
    copy[0] = '\0';
  return nsbox_resolve_in_root (root_fd, copy, create ? NSBOX_CREATE_DIR : NSBOX_CREATE_NONE,
                                0755, err);
}

void
nsbox_buf_mem (struct nsbox_buf *b, const char *s, size_t n)
{
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap)
    {
      if (b->grows)
        {
          size_t cap = b->cap ? b->cap : 256;
          char *bigger;

          while (cap < b->len + n + 1)
            cap *= 2;
          bigger = realloc (b->p, cap);
          if (bigger == NULL)
            {
              b->failed = true;
              return;
            }
          b->p = bigger;
          b->cap = cap;
        }
      else if (b->cap == 0)
        return;
      else
        n = b->cap - 1 - b->len;
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void
nsbox_buf_str (struct nsbox_buf *b, const char *s)
{
  nsbox_buf_mem (b, s, strlen (s));
}

void
nsbox_buf_int (struct nsbox_buf *b, int64_t v)
{
  char tmp[24];
  size_t i = sizeof tmp;
  uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

  do
    tmp[--i] = (char) ('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0)
    tmp[--i] = '-';
  nsbox_buf_mem (b, tmp + i, sizeof tmp - i);
}

void
nsbox_buf_json (struct nsbox_buf *b, const char *s)
{
  static const char hex[] = "0123456789abcdef";

  nsbox_buf_mem (b, "\"", 1);
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        {
          char esc[2] = { '\\', (char) c };
          nsbox_buf_mem (b, esc, 2);
        }
      else if (c < 0x20 || c == 0x7f)
        {
          char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
          nsbox_buf_mem (b, esc, 6);
        }
      else
        nsbox_buf_mem (b, (const char *) &c, 1);
    }
  nsbox_buf_mem (b, "\"", 1);
}

int
nsbox_unix_address (const char *path, struct sockaddr_un *addr, int *dir_fd,
                    struct nsbox_error *err)
{
  const char *slash;
  cleanup_free char *dir = NULL;

  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  *dir_fd = -1;
  if (strlen (path) < sizeof addr->sun_path)
    {
      strcpy (addr->sun_path, path);
      return 0;
    }
  slash = strrchr (path, '/');
  if (slash == NULL || strlen (slash + 1) > NAME_MAX)
    return nsbox_fail (err, ENAMETOOLONG, "socket path '%s'", path);
  dir = strndup (path, slash == path ? 1 : (size_t) (slash - path));
  if (dir == NULL)
    return nsbox_fail (err, ENOMEM, "socket path '%s'", path);
  *dir_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dir_fd < 0)
    return nsbox_fail (err, errno, "open the directory of '%s'", path);
  if ((size_t) snprintf (addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s", *dir_fd,
                         slash + 1)
      >= sizeof addr->sun_path)
    return nsbox_fail (err, ENAMETOOLONG, "socket path '%s'", path);
  return 0;
}
