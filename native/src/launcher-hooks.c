/* OCI hooks at their moments (`hook KIND TIMEOUT CWD STATE PATH ARGC ARG... ENV...`):
 *
 *   prestart, createRuntime  by the launcher, in the host's namespaces, once the box's
 *                            namespaces exist and its mounts are done, before pivot_root
 *                            (the child asks for them, launcher-sync.c);
 *   createContainer          by the box's init in the box's namespaces, right after, still
 *                            before pivot_root (the path resolves on the host's tree);
 *   startContainer           by the box's init, inside the box, after `start` and before
 *                            the user's program (launcher-final.c).
 *
 * Each hook gets the box's state on stdin: STATE, a JSON object from the runtime, with the
 * `pid` of the box's init (host pid namespace) added. ENV is its whole environment (the
 * runtime passes its own when config.json gives none), CWD its working directory ("":
 * unchanged). A hook that fails, is killed or outlives TIMEOUT seconds (0: no limit) fails
 * the step; poststart and poststop are the runtime's, not the launcher's. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

int
nsbox_state_with_pid (const char *state, pid_t pid, struct nsbox_buf *out)
{
  const char *brace = strchr (state, '{');
  const char *rest;

  if (brace == NULL)
    return -1;
  rest = brace + 1;
  while (*rest == ' ' || *rest == '\n' || *rest == '\t')
    rest++;
  nsbox_buf_mem (out, state, (size_t) (brace - state) + 1);
  nsbox_buf_str (out, "\"pid\":");
  nsbox_buf_int (out, pid);
  if (*rest != '}')
    nsbox_buf_str (out, ",");
  nsbox_buf_str (out, rest);
  return out->failed ? -1 : 0;
}

bool
nsbox_has_hooks (const struct nsbox_program *prog, const char *kind)
{
  for (size_t i = 0; i < prog->n_ops; i++)
    if (strcmp (prog->ops[i].name, "hook") == 0 && strcmp (prog->ops[i].args[0], kind) == 0)
      return true;
  return false;
}

static void __attribute__ ((noreturn))
hook_child (const struct nsbox_op *op, int input, char **argv, char **envp)
{
  const char *cwd = op->args[2];

  if (dup2 (input, STDIN_FILENO) < 0)
    _exit (127);
  close_range (3, ~0U, 0);
  nsbox_reset_signals ();
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (cwd[0] != '\0' && chdir (cwd) < 0)
    {
      dprintf (2, "hook %s: chdir '%s': %s\n", op->args[4], cwd, strerror (errno));
      _exit (127);
    }
  execve (op->args[4], argv, envp);
  dprintf (2, "hook %s: exec: %s\n", op->args[4], strerror (errno));
  _exit (127);
}

/* Waits for the hook, at most timeout seconds (0: no limit); its wait status, or -1 with
 * errno ETIMEDOUT after killing it. */
static int
hook_wait (pid_t pid, long long timeout, int *status)
{
  cleanup_fd int pidfd = pidfd_open (pid, 0);

  if (pidfd >= 0 && timeout > 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      int ready;

      do
        ready = poll (&p, 1, (int) (timeout * 1000));
      while (ready < 0 && errno == EINTR);
      if (ready == 0)
        {
          pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
          while (waitpid (pid, status, 0) < 0 && errno == EINTR)
            ;
          errno = ETIMEDOUT;
          return -1;
        }
    }
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

static int
run_hook (const struct nsbox_op *op, size_t index, pid_t box_pid, struct nsbox_error *err)
{
  long long timeout, argc;
  size_t n_env;
  cleanup_free char **argv = NULL;
  cleanup_free char **envp = NULL;
  struct nsbox_buf state = NSBOX_BUF_GROWING;
  int sv[2], status;
  pid_t pid;

  nsbox_parse_long (op->args[1], 0, 86400, &timeout);
  nsbox_parse_long (op->args[5], 0, (long long) op->argc - 6, &argc);
  n_env = op->argc - 6 - (size_t) argc;
  argv = calloc ((size_t) argc + 2, sizeof *argv);
  envp = calloc (n_env + 1, sizeof *envp);
  if (argv == NULL || envp == NULL || nsbox_state_with_pid (op->args[3], box_pid, &state) < 0)
    {
      free (state.p);
      return nsbox_fail (err, ENOMEM, "prepare the %s hook #%zu", op->args[0], index);
    }
  if (argc == 0)
    argv[0] = op->args[4];
  for (long long a = 0; a < argc; a++)
    argv[a] = op->args[6 + a];
  for (size_t e = 0; e < n_env; e++)
    envp[e] = op->args[6 + argc + e];

  /* A socket rather than a pipe: MSG_NOSIGNAL, so a hook that does not read its stdin
   * cannot kill us with SIGPIPE. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      free (state.p);
      return nsbox_fail (err, errno, "socketpair for the %s hook #%zu", op->args[0], index);
    }
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (sv[0]);
      close (sv[1]);
      free (state.p);
      return nsbox_fail (err, e, "fork the %s hook #%zu", op->args[0], index);
    }
  if (pid == 0)
    hook_child (op, sv[1], argv, envp);
  close (sv[1]);
  /* What the hook does not read at once is not waited for: a hook may ignore its stdin. */
  (void) send (sv[0], state.p, state.len, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown (sv[0], SHUT_WR);
  free (state.p);
  if (hook_wait (pid, timeout, &status) < 0)
    {
      int e = errno;
      close (sv[0]);
      if (e == ETIMEDOUT)
        return nsbox_fail (err, 0, "error running %s hook #%zu (%s): timed out after %lld s",
                           op->args[0], index, op->args[4], timeout);
      return nsbox_fail (err, e, "wait for the %s hook #%zu (%s)", op->args[0], index, op->args[4]);
    }
  close (sv[0]);
  if (WIFSIGNALED (status))
    return nsbox_fail (err, 0, "error running %s hook #%zu (%s): killed by signal %d",
                       op->args[0], index, op->args[4], WTERMSIG (status));
  if (WEXITSTATUS (status) != 0)
    return nsbox_fail (err, 0, "error running %s hook #%zu (%s): exit status %d",
                       op->args[0], index, op->args[4], WEXITSTATUS (status));
  return 0;
}

int
nsbox_run_hooks (const struct nsbox_program *prog, const char *kind, pid_t box_pid,
                 struct nsbox_error *err)
{
  size_t index = 0;

  for (size_t i = 0; i < prog->n_ops; i++)
    {
      const struct nsbox_op *op = &prog->ops[i];

      if (strcmp (op->name, "hook") != 0 || strcmp (op->args[0], kind) != 0)
        continue;
      if (run_hook (op, index++, box_pid, err) < 0)
        {
          err->step = "hook";
          return -1;
        }
    }
  return 0;
}
