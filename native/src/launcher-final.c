/* The child's last steps, the same in create and join mode:
 *
 *   build the seccomp filter and parse caps (while everything is still reachable)
 *   [load seccomp now if there is no no_new_privs: loading needs CAP_SYS_ADMIN then]
 *   identity: bounding drop, keep caps, groups, user, capset, ambient (launcher-caps.c)
 *   no_new_privs
 *   cwd: resolved inside the root, then checked to be inside it (CVE-2024-21626 class)
 *   fds: the exec-check fd moves to 3 (CLOEXEC), everything from 4 up is closed
 *   signals back to their defaults, no parent-death signal
 *   [load seccomp last when no_new_privs is set: nothing after it but execve]
 *   execve, searching the box's PATH when argv[0] has no slash
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void
nsbox_reset_signals (void)
{
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* Fails harmlessly on SIGKILL, SIGSTOP and the signals glibc reserves. */
  for (int sig = 1; sig < NSIG; sig++)
    signal (sig, SIG_DFL);
}

static void
free_env (char ***envp)
{
  free (*envp);
}

/* `env` ops, in order; a later KEY replaces an earlier one. The strings belong to the
 * program. */
static int
build_env (const struct nsbox_program *prog, char ***out, struct nsbox_error *err)
{
  char **envp = calloc (prog->n_ops + 1, sizeof (char *));
  size_t n = 0;

  if (envp == NULL)
    return nsbox_fail (err, ENOMEM, "allocate the environment");
  for (size_t i = 0; i < prog->n_ops; i++)
    {
      char *var = prog->ops[i].args[0], *eq;
      size_t key_len, j;

      if (strcmp (prog->ops[i].name, "env") != 0)
        continue;
      eq = strchr (var, '=');
      if (eq == NULL || eq == var)
        {
          free (envp);
          err->step = "env";
          return nsbox_fail (err, EINVAL, "'%s' is not KEY=VALUE", var);
        }
      key_len = eq - var + 1;
      for (j = 0; j < n; j++)
        if (strncmp (envp[j], var, key_len) == 0)
          break;
      envp[j] = var;
      if (j == n)
        n++;
    }
  *out = envp;
  return 0;
}

static const char *
env_get (char **envp, const char *key)
{
  size_t len = strlen (key);
  for (; *envp; envp++)
    if (strncmp (*envp, key, len) == 0 && (*envp)[len] == '=')
      return *envp + len + 1;
  return NULL;
}

static int
enter_cwd (const struct nsbox_op *cwd, struct nsbox_error *err)
{
  const char *path = cwd ? cwd->args[0] : "/";
  cleanup_fd int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_fd int dir = -1;
  char buf[PATH_MAX];

  if (root < 0)
    return nsbox_fail (err, errno, "open '/'");
  /* Inside the root and without magic links: a `cwd /proc/self/fd/N` cannot reach a
   * leaked host directory. */
  dir = nsbox_open_in_root (root, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0)
    return nsbox_fail (err, errno, "resolve the working directory '%s'", path);
  if (fchdir (dir) < 0)
    return nsbox_fail (err, errno, "chdir '%s'", path);
  /* The kernel gives "(unreachable)/..." for a cwd outside the root, which glibc turns
   * into ENOENT: either way, refuse to exec there. */
  if (getcwd (buf, sizeof buf) == NULL)
    return nsbox_fail (err, errno, "the working directory '%s' is not inside the root", path);
  if (buf[0] != '/')
    return nsbox_fail (err, EPERM, "the working directory '%s' is not inside the root", path);
  return 0;
}

/* fd 0-2 stay, sync_fd becomes fd 3 (CLOEXEC: closed by a successful execve, which is
 * how the parent learns about it), the rest is closed. */
static int
close_fds (int sync_fd, struct nsbox_error *err)
{
  if (sync_fd != 3)
    {
      if (dup3 (sync_fd, 3, O_CLOEXEC) < 0)
        return nsbox_fail (err, errno, "dup the exec-check fd");
      sync_fd = 3;
    }
  if (close_range (4, ~0U, 0) < 0)
    return nsbox_fail (err, errno, "close_range");
  return sync_fd;
}

static int
exec_program (const struct nsbox_op *exec, char **envp, struct nsbox_error *err)
{
  char **argv = exec->args; /* NULL-terminated by the decoder */
  const char *file = argv[0];
  const char *path;
  char full[PATH_MAX];
  bool eacces = false;

  err->step = "exec";
  if (file[0] == '\0')
    return nsbox_fail (err, ENOENT, "exec ''");
  if (strchr (file, '/'))
    {
      execve (file, argv, envp);
      return nsbox_fail (err, errno, "exec '%s'", file);
    }
  path = env_get (envp, "PATH");
  if (path == NULL)
    path = DEFAULT_PATH;
  for (const char *p = path;; p++)
    {
      const char *end = strchrnul (p, ':');
      int len = (int) (end - p);

      /* An empty element means the current directory, as for execvp(3). */
      if (snprintf (full, sizeof full, "%.*s%s%s", len, p, len ? "/" : "", file)
          < (int) sizeof full)
        {
          execve (full, argv, envp);
          if (errno == EACCES)
            eacces = true;
          else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV
                   && errno != ETIMEDOUT && errno != ELOOP && errno != ENAMETOOLONG)
            return nsbox_fail (err, errno, "exec '%s'", full);
        }
      if (*end == '\0')
        break;
      p = end;
    }
  return nsbox_fail (err, eacces ? EACCES : ENOENT, "exec '%s' (searched PATH=%s)", file, path);
}

static void
release_filter (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}

int
nsbox_final_exec (const struct nsbox_program *prog, int *sync_fd, struct nsbox_error *err)
{
  const struct nsbox_op *exec = nsbox_program_find (prog, "exec");
  bool no_new_privs = nsbox_program_find (prog, "no_new_privs") != NULL;
  __attribute__ ((cleanup (release_filter))) scmp_filter_ctx filter = NULL;
  __attribute__ ((cleanup (free_env))) char **envp = NULL;
  struct nsbox_caps caps;
  int fd;

  if (build_env (prog, &envp, err) < 0 || nsbox_caps_parse (prog, &caps, err) < 0
      || nsbox_seccomp_build (prog, &filter, err) < 0)
    return -1;

  /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have
   * it. The filter then sees the remaining setup syscalls; a profile that denies them
   * needs no_new_privs. */
  if (filter && !no_new_privs && nsbox_seccomp_load (filter, err) < 0)
    return -1;
  if (nsbox_apply_identity (prog, &caps, err) < 0)
    return -1;
  if (no_new_privs && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      err->step = "no_new_privs";
      return nsbox_fail (err, errno, "PR_SET_NO_NEW_PRIVS");
    }
  if (enter_cwd (nsbox_program_find (prog, "cwd"), err) < 0)
    {
      nsbox_error_step (err, "cwd");
      return -1;
    }
  /* The launcher builds the rootfs with umask 0 (exact modes); the box gets the usual. */
  umask (022);
  fd = close_fds (*sync_fd, err);
  if (fd < 0)
    {
      nsbox_error_step (err, "exec");
      return -1;
    }
  *sync_fd = fd;
  /* The parent-death signal protected the setup only: it must not outlive the launcher,
   * which exits as soon as the box runs. */
  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  nsbox_reset_signals ();
  if (filter && no_new_privs && nsbox_seccomp_load (filter, err) < 0)
    return -1;
  return exec_program (exec, envp, err);
}
