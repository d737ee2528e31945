/* idmapBind(source, target, uidMap, gidMap): attaches at `target` an idmapped clone of the
 * mount tree at `source`, its idmap a user namespace with those maps (uid_map lines), made
 * for it by a throwaway child (as the launcher's `tree` op does for a mount with maps of its
 * own). The runtime builds a layered box's overlay on such mounts of its layers: overlayfs
 * itself cannot be idmapped, its layers can (Linux 5.19). Non-recursive: a layer is one
 * directory tree of one filesystem. Throws an Error with code (errno name), errno and step. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <node_api.h>

#include "addon-glue.h"
#include "addon-idmap.h"

#define MAP_SIZE 4096

static napi_value
throw_step (napi_env env, int errnum, const char *step)
{
  const char *name = strerrorname_np (errnum);
  char message[256];
  napi_value error, code, msg, value;

  snprintf (message, sizeof message, "idmapBind: %s: %s", step, strerror (errnum));
  NAPI_OK (napi_create_string_utf8 (env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
  NAPI_OK (napi_create_string_utf8 (env, message, NAPI_AUTO_LENGTH, &msg));
  NAPI_OK (napi_create_error (env, code, msg, &error));
  NAPI_OK (napi_create_int32 (env, -errnum, &value));
  NAPI_OK (napi_set_named_property (env, error, "errno", value));
  NAPI_OK (napi_create_string_utf8 (env, step, NAPI_AUTO_LENGTH, &value));
  NAPI_OK (napi_set_named_property (env, error, "step", value));
  napi_throw (env, error);
  return NULL;
}

static int
write_proc (pid_t pid, const char *file, const char *text)
{
  char path[64];
  int fd, rc = 0;
  size_t len = strlen (text);

  snprintf (path, sizeof path, "/proc/%d/%s", pid, file);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (write (fd, text, len) != (ssize_t) len)
    rc = -1;
  close (fd);
  return rc;
}

/* A user namespace with the maps, held by an fd; -1 with errno set otherwise. The child
 * only pauses (async-signal-safe after a fork from a threaded process) until it is killed. */
static int
mapped_userns (const char *uidmap, const char *gidmap, const char **step)
{
  char path[64];
  int status, fd = -1, saved = 0;
  pid_t pid = (pid_t) syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);

  if (pid < 0)
    {
      *step = "make a user namespace for the idmap";
      return -1;
    }
  if (pid == 0)
    for (;;)
      pause ();
  if (write_proc (pid, "uid_map", uidmap) < 0 || write_proc (pid, "gid_map", gidmap) < 0)
    {
      saved = errno;
      *step = "write the idmap's uid_map or gid_map";
    }
  else
    {
      snprintf (path, sizeof path, "/proc/%d/ns/user", pid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          saved = errno;
          *step = "open the idmap's user namespace";
        }
    }
  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  errno = saved;
  return fd;
}

static napi_value
js_idmap_bind (napi_env env, napi_callback_info info)
{
  napi_value argv[4];
  char source[PATH_MAX], target[PATH_MAX], uidmap[MAP_SIZE], gidmap[MAP_SIZE];
  const char *step = NULL;
  struct mount_attr attr = { 0 };
  int userns, tree, errnum;

  if (!get_args (env, info, 4, argv) || !arg_path (env, argv[0], "source", source, sizeof source)
      || !arg_path (env, argv[1], "target", target, sizeof target)
      || !arg_string (env, argv[2], "uidMap", uidmap, sizeof uidmap)
      || !arg_string (env, argv[3], "gidMap", gidmap, sizeof gidmap))
    return NULL;
  userns = mapped_userns (uidmap, gidmap, &step);
  if (userns < 0)
    return throw_step (env, errno, step);
  tree = (int) syscall (SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    {
      errnum = errno;
      close (userns);
      return throw_step (env, errnum, "clone the source's mount (open_tree)");
    }
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (unsigned long long) userns;
  if (syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    {
      errnum = errno;
      close (tree);
      close (userns);
      return throw_step (env, errnum, "set the idmap (mount_setattr)");
    }
  close (userns);
  if (syscall (SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    {
      errnum = errno;
      close (tree);
      return throw_step (env, errnum, "attach it at the target (move_mount)");
    }
  close (tree);
  return undefined (env);
}

bool
addon_idmap_register (napi_env env, napi_value exports)
{
  static const napi_property_descriptor functions[] = {
    { "idmapBind", NULL, js_idmap_bind, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  return napi_define_properties (env, exports, sizeof functions / sizeof functions[0], functions)
         == napi_ok;
}
