/* `tree` ops: detached mount trees the parent prepares for the child, chiefly idmapped
 * mounts (the box's rootfs, files owned by host uid 0 on disk, shown as owned by the
 * box's root).
 *
 * An idmapped mount needs CAP_SYS_ADMIN in the user namespace the filesystem was mounted
 * in, the host's: the box's root does not have it. So the launcher, after writing the id
 * maps, clones each tree (open_tree(OPEN_TREE_CLONE)), sets its attributes and its idmap
 * (mount_setattr(MOUNT_ATTR_IDMAP) with the child's user namespace) while it is detached,
 * and hands the fds to the child over the handshake socket (SCM_RIGHTS), one message per
 * tree before the go byte.
 *
 * Plain bind mounts of a box with a user namespace come the same way, without the idmap:
 * the child, root of the box's user namespace, may not be allowed to open a host path that
 * the launcher (host root) can; the source is opened with the host's credentials. The child attaches them with move_mount(2): `rootfs PATH idmap`
 * and bind `mount`s with the `idmap` flag take the tree prepared for their host path.
 *
 * `tree PATH FLAGS UIDMAP GIDMAP`: a mount with mappings of its own (OCI mount
 * uidMappings/gidMappings that are not the box's): its idmap is a user namespace made for
 * it, with those maps, by a throwaway child of the launcher's (as runc and crun do). */
#include "launcher.h"
#include "userns-map.h"
#include "mount-flags.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* SCM_RIGHTS carries one fd per message here; the bound keeps the arrays small. */
#define MAX_TREES 256

int
nsbox_trees_prepare (const struct nsbox_program *prog, pid_t pid, struct nsbox_trees *trees,
                     struct nsbox_error *err)
{
  cleanup_fd int userns = -1;
  char path[64];

  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];
      struct nsbox_bind_attrs attrs;
      cleanup_fd int tree = -1;
      cleanup_fd int own_userns = -1;

      if (strcmp (op->name, "tree") != 0)
        continue;
      err->step = "tree";
      if (trees->n >= MAX_TREES)
        return nsbox_fail (err, E2BIG, "more than %d trees", MAX_TREES);
      if (nsbox_parse_bind_attrs (op->args[1], &attrs, err) < 0)
        return -1;
      if (op->argc == 4)
        {
          if (!attrs.idmap)
            return nsbox_fail (err, EINVAL, "mappings for '%s' without idmap", op->args[0]);
          if (nsbox_mapped_userns (op->args[2], op->args[3], &own_userns, err) < 0)
            return -1;
        }
      else if (op->argc != 2)
        return nsbox_fail (err, EINVAL, "tree '%s' takes both maps or none", op->args[0]);
      else if (attrs.idmap && userns < 0)
        {
          snprintf (path, sizeof path, "/proc/%d/ns/user", pid);
          userns = open (path, O_RDONLY | O_CLOEXEC);
          if (userns < 0)
            return nsbox_fail (err, errno, "open '%s'", path);
        }
      tree = open_tree (AT_FDCWD, op->args[0],
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
                            | (attrs.recursive ? AT_RECURSIVE : 0));
      if (tree < 0)
        return nsbox_fail (err, errno, "clone the mount at '%s'", op->args[0]);
      /* A clone keeps its source's peer group: on a host whose mounts are shared (systemd
       * makes / shared), the tree would join the child's namespace shared with the host,
       * and pivot_root refuses a shared new root (EINVAL). A slave gets the host's mount
       * events, as the rootfs bound in the child does, and sends none back. */
      struct mount_attr attr = {
        .attr_set = attrs.attr_set | (attrs.idmap ? MOUNT_ATTR_IDMAP : 0),
        .attr_clr = attrs.attr_clr,
        .propagation = MS_SLAVE,
        .userns_fd = attrs.idmap ? (uint64_t) (own_userns >= 0 ? own_userns : userns) : 0,
      };
      if (mount_setattr (tree, "", AT_EMPTY_PATH | (attrs.recursive ? AT_RECURSIVE : 0),
                         &attr, sizeof attr)
          < 0)
        return nsbox_fail (err, errno, "set the attributes%s of the mount of '%s'",
                           attrs.idmap ? " and the idmap" : "", op->args[0]);
      trees->fds[trees->n] = nsbox_steal_fd (&tree);
      trees->paths[trees->n] = op->args[0];
      trees->n++;
    }
  err->step = NULL;
  return 0;
}

/* One byte per message: 't' with a tree's fd, then 'g' (go) alone. */
static int
send_byte (int sock, char byte, int fd)
{
  char control[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (fd >= 0)
    {
      struct cmsghdr *cmsg;
      memset (control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
    }
  while (sendmsg (sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

int
nsbox_trees_send_go (int sock, const struct nsbox_trees *trees, pid_t pid,
                     struct nsbox_error *err)
{
  for (size_t i = 0; i < trees->n; i++)
    if (send_byte (sock, 't', trees->fds[i]) < 0)
      {
        err->step = "tree";
        return nsbox_fail (err, errno, "hand the tree of '%s' to the child", trees->paths[i]);
      }
  if (send_byte (sock, 'g', -1) < 0 || nsbox_write_all (sock, &pid, sizeof pid) < 0)
    {
      err->step = "handshake";
      return nsbox_fail (err, errno, "let the child go");
    }
  return 0;
}

int
nsbox_trees_receive (int sock, const struct nsbox_program *prog, struct nsbox_trees *trees,
                     pid_t *own_pid)
{
  size_t next = 0;

  for (;;)
    {
      char byte, control[CMSG_SPACE (sizeof (int))];
      struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                            .msg_controllen = sizeof control };
      struct cmsghdr *cmsg;
      ssize_t n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
      int fd = -1;

      if (n < 0 && errno == EINTR)
        continue;
      if (n != 1)
        return -1; /* the parent is gone or gave up */
      cmsg = CMSG_FIRSTHDR (&msg);
      if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        memcpy (&fd, CMSG_DATA (cmsg), sizeof (int));
      if (byte == 'g')
        return nsbox_read_exact (sock, own_pid, sizeof *own_pid);
      if (byte != 't' || fd < 0 || trees->n >= MAX_TREES)
        {
          if (fd >= 0)
            close (fd);
          return -1;
        }
      /* The i-th fd belongs to the i-th `tree` op: find its path. */
      while (next < prog->n_ops && strcmp (prog->ops[next].name, "tree") != 0)
        next++;
      if (next >= prog->n_ops)
        {
          close (fd);
          return -1;
        }
      trees->paths[trees->n] = prog->ops[next++].args[0];
      trees->fds[trees->n++] = fd;
    }
}

int
nsbox_trees_take (struct nsbox_trees *trees, const char *path)
{
  for (size_t i = 0; i < trees->n; i++)
    if (trees->fds[i] >= 0 && strcmp (trees->paths[i], path) == 0)
      return nsbox_steal_fd (&trees->fds[i]);
  return -1;
}

bool
nsbox_trees_has (const struct nsbox_trees *trees, const char *path)
{
  for (size_t i = 0; i < trees->n; i++)
    if (trees->fds[i] >= 0 && strcmp (trees->paths[i], path) == 0)
      return true;
  return false;
}

int
nsbox_trees_init (struct nsbox_trees *trees)
{
  trees->n = 0;
  trees->fds = calloc (MAX_TREES, sizeof *trees->fds);
  trees->paths = calloc (MAX_TREES, sizeof *trees->paths);
  if (trees->fds == NULL || trees->paths == NULL)
    {
      nsbox_trees_release (trees);
      return -1;
    }
  return 0;
}

void
nsbox_trees_release (struct nsbox_trees *trees)
{
  if (trees->fds)
    for (size_t i = 0; i < trees->n; i++)
      if (trees->fds[i] >= 0)
        close (trees->fds[i]);
  free (trees->fds);
  free (trees->paths);
  trees->fds = NULL;
  trees->paths = NULL;
  trees->n = 0;
}
