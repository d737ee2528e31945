/* The child's last steps, the same in create and join mode:
 *
 *   build the environment, parse caps, build the seccomp filter (memory still reachable)
 *   process attributes: sched, ioprio, mempolicy, personality (before caps are dropped)
 *   HOME from the box's /etc/passwd when the environment has none
 *   identity: bounding drop, keep caps, groups, user, capset, ambient (launcher-caps.c)
 *   no_new_privs
 *   cwd: resolved inside the root, then checked to be inside it (CVE-2024-21626 class)
 *   the program: found in the box's PATH as the box's user (a create fails on a missing
 *     program, as runc's does)
 *   umask; fds: preserved fds to 3 … 2+N, internal fds above them (CLOEXEC), the rest closed
 *   signals back to their defaults, no parent-death signal
 *   [`hold`: wait for `start` (launcher-hold.c), then the startContainer hooks]
 *   seccomp: loaded last, with the listener sent to its agent right after; nothing else
 *     runs between the load and execve. Without no_new_privs the load needs
 *     CAP_SYS_ADMIN, which the identity step keeps in the effective set until here:
 *     execve computes the new sets from bounding, inheritable and ambient, so it is gone
 *     in the program unless the spec gives it.
 *   execve
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
  /* One more slot: HOME may be added. */
  char **envp = calloc (prog->n_ops + 2, sizeof (char *));
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

/* The program as execve will find it: as given when it has a slash, else the first
 * executable regular file of that name in the box's PATH (an empty element is the working
 * directory, as for execvp). Checked as the box's user, before `hold`: a create fails on a
 * missing program. */
static int
find_program (const char *file, char **envp, char *out, size_t size, struct nsbox_error *err)
{
  const char *path = env_get (envp, "PATH");
  bool eacces = false;
  struct stat st;

  err->step = "exec";
  if (file[0] == '\0')
    return nsbox_fail (err, ENOENT, "exec ''");
  if (strchr (file, '/'))
    {
      if ((size_t) snprintf (out, size, "%s", file) >= size)
        return nsbox_fail (err, ENAMETOOLONG, "exec '%s'", file);
      if (stat (out, &st) < 0)
        return nsbox_fail (err, errno, "exec '%s'", file);
      if (S_ISDIR (st.st_mode) || access (out, X_OK) < 0)
        return nsbox_fail (err, S_ISDIR (st.st_mode) ? EACCES : errno, "exec '%s'", file);
      return 0;
    }
  if (path == NULL)
    path = DEFAULT_PATH;
  for (const char *p = path;; p++)
    {
      const char *end = strchrnul (p, ':');
      int len = (int) (end - p);

      if (snprintf (out, size, "%.*s%s%s", len, p, len ? "/" : "", file) < (int) size
          && stat (out, &st) == 0)
        {
          if (S_ISREG (st.st_mode) && access (out, X_OK) == 0)
            return 0;
          eacces = true;
        }
      if (*end == '\0')
        break;
      p = end;
    }
  /* runc's words, which engines map to 126 and 127. */
  nsbox_fail (err, 0, "exec: \"%s\": %s (PATH=%s)", file,
              eacces ? "permission denied" : "executable file not found in $PATH", path);
  err->errnum = eacces ? EACCES : ENOENT;
  return -1;
}

static int
dup_above (int *fd, int min, struct nsbox_error *err)
{
  int moved;

  if (*fd < 0)
    return 0;
  moved = fcntl (*fd, F_DUPFD_CLOEXEC, min);
  if (moved < 0)
    return nsbox_fail (err, errno, "move fd %d", *fd);
  close (*fd);
  *fd = moved;
  return 0;
}

/* fd 0-2 stay; `preserve_fds N` moves fds 5 … 4+N to 3 … 2+N (without CLOEXEC: they are
 * the box's); the launcher's own fds (CLOEXEC) go right above; everything else is closed. */
static int
arrange_fds (const struct nsbox_program *prog, struct nsbox_final *f, struct nsbox_error *err)
{
  unsigned n = nsbox_preserved_fds (prog);
  int high = NSBOX_PRESERVED_BASE + (int) n + 3;
  int *own[] = { &f->sync_fd, &f->hold_fd, &f->listener_fd };
  int next = 3 + (int) n;

  err->step = "exec";
  /* Out of the way of both the preserved fds and their targets first... */
  for (size_t i = 0; i < 3; i++)
    if (dup_above (own[i], high + (int) i, err) < 0)
      return -1;
  for (unsigned i = 0; i < n; i++)
    if (dup2 (NSBOX_PRESERVED_BASE + (int) i, 3 + (int) i) < 0)
      return nsbox_fail (err, errno, "move the preserved fd %u", NSBOX_PRESERVED_BASE + i);
  /* ...then down, right above the preserved ones. */
  for (size_t i = 0; i < 3; i++)
    if (*own[i] >= 0)
      {
        if (dup3 (*own[i], next, O_CLOEXEC) < 0)
          return nsbox_fail (err, errno, "move fd %d", *own[i]);
        close (*own[i]);
        *own[i] = next++;
      }
  if (close_range ((unsigned) next, ~0U, 0) < 0)
    return nsbox_fail (err, errno, "close_range");
  err->step = NULL;
  return 0;
}

static void
release_filter (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}

static void
release_buf (struct nsbox_buf *b)
{
  free (b->p);
}

/* HOME=... from /etc/passwd when the environment has no HOME; home_var is its storage. */
static int
add_home (const struct nsbox_program *prog, char **envp, char *home_var, size_t size,
          struct nsbox_error *err)
{
  const struct nsbox_op *user = nsbox_program_find (prog, "user");
  long long uid = 0;
  size_t n = 0;

  if (nsbox_program_find (prog, "home") == NULL || env_get (envp, "HOME") != NULL)
    return 0;
  if (user && nsbox_parse_long (user->args[0], 0, UINT32_MAX - 1, &uid) < 0)
    uid = 0; /* `user` reports its own error */
  memcpy (home_var, "HOME=", 5);
  if (nsbox_process_home ((uid_t) uid, home_var + 5, size - 5, err) < 0)
    {
      nsbox_error_step (err, "home");
      return -1;
    }
  while (envp[n])
    n++;
  envp[n] = home_var;
  return 0;
}

int
nsbox_final_exec (const struct nsbox_program *prog, struct nsbox_final *f, struct nsbox_error *err)
{
  const struct nsbox_op *exec = nsbox_program_find (prog, "exec");
  bool no_new_privs = nsbox_program_find (prog, "no_new_privs") != NULL;
  __attribute__ ((cleanup (release_filter))) scmp_filter_ctx filter = NULL;
  __attribute__ ((cleanup (free_env))) char **envp = NULL;
  __attribute__ ((cleanup (release_buf))) struct nsbox_buf payload = NSBOX_BUF_GROWING;
  static char home_var[PATH_MAX + 8];
  static char program[PATH_MAX];
  struct nsbox_caps caps;
  bool filtered;

  if (build_env (prog, &envp, err) < 0 || nsbox_caps_parse (prog, &caps, err) < 0
      || nsbox_seccomp_build (prog, &filter, err) < 0)
    return -1;
  /* Built here, or prepared by the launcher before it cloned (`seccomp.cache`). */
  filtered = filter != NULL || nsbox_seccomp_prepared ();
  if (filtered && f->listener_fd >= 0
      && nsbox_seccomp_listener_payload (prog, f->host_pid, &payload, err) < 0)
    return -1;
  if (nsbox_process_attributes (prog, err) < 0
      || add_home (prog, envp, home_var, sizeof home_var, err) < 0)
    return -1;
  /* Without no_new_privs, loading the filter needs CAP_SYS_ADMIN: kept until then. */
  if (nsbox_apply_identity (prog, &caps, filtered && !no_new_privs ? 1ULL << 21 : 0, err) < 0)
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
  if (find_program (exec->args[0], envp, program, sizeof program, err) < 0)
    return -1;
  /* The launcher builds the rootfs with umask 0 (exact modes); the box gets its own. */
  if (nsbox_process_umask (prog, err) < 0 || arrange_fds (prog, f, err) < 0)
    return -1;
  /* The parent-death signal protected the setup only: it must not outlive the launcher,
   * which exits as soon as the box runs (or holds). */
  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  nsbox_reset_signals ();
  if (f->hold_fd >= 0)
    {
      if (nsbox_hold_wait (&f->sync_fd, &f->hold_fd, err) < 0
          || nsbox_run_hooks (prog, "startContainer", f->host_pid, err) < 0)
        return -1;
    }
  if (filtered)
    {
      /* Nothing but the agent's sendmsg and execve after this. */
      if (nsbox_seccomp_load (filter, err) < 0)
        return -1;
      if (f->listener_fd >= 0 && nsbox_seccomp_listener_send (filter, f->listener_fd, &payload, err) < 0)
        return -1;
    }
  err->step = "exec";
  execve (program, exec->args, envp);
  return nsbox_fail (err, errno, "exec '%s'", program);
}
