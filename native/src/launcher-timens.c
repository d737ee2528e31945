/* `timens.offset` in a box with a user namespace: the time namespace is made by the child,
 * once it is root of the box's user namespace, so that the box's user namespace owns it —
 * as it owns every other namespace of the box. A time namespace made by the launcher on
 * the host side belongs to the host's user namespace: the box's root could not enter it
 * again, and CRIU refuses to checkpoint a box whose namespaces are not all its user
 * namespace's ("One or more namespaces doesn't belong to the target user namespace").
 *
 * The offsets can be written until a first process enters the namespace; unshare makes it
 * for the children, and the child then enters it itself (setns of time_for_children, which
 * a single-threaded process may do), before anything in the box reads a clock. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
nsbox_timens_offset_line (const struct nsbox_op *op, char *line, size_t size, struct nsbox_error *err)
{
  long long secs, nsecs;

  if (strcmp (op->args[0], "monotonic") != 0 && strcmp (op->args[0], "boottime") != 0)
    return nsbox_fail (err, EINVAL, "unknown clock '%s'", op->args[0]);
  if (nsbox_parse_long (op->args[1], INT64_MIN / 2, INT64_MAX / 2, &secs) < 0
      || nsbox_parse_long (op->args[2], 0, 999999999, &nsecs) < 0)
    return nsbox_fail (err, EINVAL, "bad offset '%s' '%s'", op->args[1], op->args[2]);
  return snprintf (line, size, "%s %lld %lld\n", op->args[0], secs, nsecs);
}

int
nsbox_timens_child (const struct nsbox_program *prog, struct nsbox_error *err)
{
  cleanup_fd int fd = -1;
  char line[128];

  err->step = "timens.offset";
  if (unshare (CLONE_NEWTIME) < 0)
    return nsbox_fail (err, errno, "unshare the time namespace");
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      int len;

      if (strcmp (prog->ops[i].name, "timens.offset") != 0)
        continue;
      len = nsbox_timens_offset_line (&prog->ops[i], line, sizeof line, err);
      if (len < 0 || nsbox_write_file ("/proc/self/timens_offsets", line, (size_t) len, err) < 0)
        return -1;
    }
  fd = open ("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail (err, errno, "open /proc/self/ns/time_for_children");
  if (setns (fd, CLONE_NEWTIME) < 0)
    return nsbox_fail (err, errno, "enter the box's time namespace");
  err->step = NULL;
  return 0;
}
