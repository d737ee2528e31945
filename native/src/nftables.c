/* nftables through libnftables (nftables.h).
 *
 * One context is kept open, for the namespace last used, and closed after it has been idle
 * for NFT_IDLE_SECONDS: closing an nftables netlink socket makes the kernel wait, holding the
 * namespace's nf_tables commit lock, for the release of the last transaction's objects (an
 * RCU grace period: 10–30 ms on a busy host), and the next batch waited behind it. A batch on
 * an open context costs a fraction of a millisecond. The context is made by a short-lived
 * helper thread inside the target namespace (its socket stays bound there, as netlink.c's);
 * batches then run on the calling thread — the batch names interfaces by name only, so
 * nothing in it depends on the caller's namespace. Its cache stays right across processes:
 * libnftables reloads it when the ruleset's generation changed. The context is closed by a
 * background thread, never by the caller; idle, it keeps a deleted namespace alive for at most
 * those seconds. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "nftables.h"

#define NFT_IDLE_SECONDS 2

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct
{
  struct nft_ctx *ctx;
  /* The namespace it was made in. */
  dev_t dev;
  ino_t ino;
  struct timespec used;
  bool closer_running;
} cache;

static char *
copy_or_empty (const char *text)
{
  return strdup (text ? text : "");
}

static void *
free_ctx_thread (void *data)
{
  nft_ctx_free (data);
  return NULL;
}

/* Frees a context on a detached thread (inline when no thread can be made). */
static void
free_in_background (struct nft_ctx *ctx)
{
  pthread_attr_t attr;
  pthread_t thread;
  int e;

  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  e = pthread_create (&thread, &attr, free_ctx_thread, ctx);
  pthread_attr_destroy (&attr);
  if (e != 0)
    nft_ctx_free (ctx);
}

/* Closes the cached context once it has been idle long enough; then ends. */
static void *
closer_thread (void *data)
{
  (void) data;
  pthread_mutex_lock (&cache_lock);
  while (cache.ctx)
    {
      struct timespec now, deadline = cache.used;
      deadline.tv_sec += NFT_IDLE_SECONDS;
      clock_gettime (CLOCK_MONOTONIC, &now);
      if (now.tv_sec > deadline.tv_sec
          || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
        {
          struct nft_ctx *ctx = cache.ctx;
          cache.ctx = NULL;
          pthread_mutex_unlock (&cache_lock);
          nft_ctx_free (ctx);
          pthread_mutex_lock (&cache_lock);
          break;
        }
      pthread_mutex_unlock (&cache_lock);
      clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
      pthread_mutex_lock (&cache_lock);
    }
  cache.closer_running = false;
  pthread_mutex_unlock (&cache_lock);
  return NULL;
}

struct make_job
{
  int ns_fd;
  struct nft_ctx *ctx;
  int setns_errno;
};

static void *
make_ctx_thread (void *data)
{
  struct make_job *job = data;

  if (job->ns_fd >= 0 && setns (job->ns_fd, CLONE_NEWNET) < 0)
    {
      job->setns_errno = errno;
      return NULL;
    }
  job->ctx = nft_ctx_new (NFT_CTX_DEFAULT);
  if (job->ctx && (nft_ctx_buffer_output (job->ctx) != 0 || nft_ctx_buffer_error (job->ctx) != 0))
    {
      nft_ctx_free (job->ctx);
      job->ctx = NULL;
    }
  return NULL;
}

/* The context for the namespace (fd, identity), from the cache or made; called locked. */
static struct nft_ctx *
context_for (const char *netns, int ns_fd, const struct stat *ns, struct nl_error *err)
{
  struct make_job job = { .ns_fd = ns_fd };
  pthread_t thread;
  int e;

  if (cache.ctx && cache.dev == ns->st_dev && cache.ino == ns->st_ino)
    return cache.ctx;
  if (cache.ctx)
    {
      free_in_background (cache.ctx);
      cache.ctx = NULL;
    }
  e = pthread_create (&thread, NULL, make_ctx_thread, &job);
  if (e == 0)
    e = pthread_join (thread, NULL);
  if (e != 0)
    return nl_fail (err, e, "helper thread for nft"), NULL;
  if (job.setns_errno)
    return nl_fail (err, job.setns_errno, "setns '%s'", netns), NULL;
  if (!job.ctx)
    return nl_fail (err, ENOMEM, "nft context"), NULL;
  cache.ctx = job.ctx;
  cache.dev = ns->st_dev;
  cache.ino = ns->st_ino;
  return cache.ctx;
}

static int
run_locked (const char *netns, const char *commands, bool json, struct nft_result *result,
            struct nl_error *err)
{
  const char *path = netns && netns[0] ? netns : "/proc/thread-self/ns/net";
  struct nft_ctx *ctx;
  struct stat ns;
  unsigned int flags;
  int fd, rc;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nl_fail (err, errno, "open netns '%s'", path);
  if (fstat (fd, &ns) < 0)
    {
      int e = errno;
      close (fd);
      return nl_fail (err, e, "stat netns '%s'", path);
    }
  ctx = context_for (path, netns && netns[0] ? fd : -1, &ns, err);
  close (fd);
  if (!ctx)
    return -1;
  flags = nft_ctx_output_get_flags (ctx);
  nft_ctx_output_set_flags (ctx, json ? flags | NFT_CTX_OUTPUT_JSON : flags & ~NFT_CTX_OUTPUT_JSON);
  rc = nft_run_cmd_from_buffer (ctx, commands);
  /* Read (and so emptied) after every batch, so that the next one starts clean. */
  result->output = copy_or_empty (nft_ctx_get_output_buffer (ctx));
  if (rc != 0)
    {
      const char *message = nft_ctx_get_error_buffer (ctx);
      result->error = copy_or_empty (message && message[0] ? message : "nft refused the batch");
    }
  else
    nft_ctx_get_error_buffer (ctx);
  if (!result->output || (rc != 0 && !result->error))
    {
      nft_result_free (result);
      return nl_fail (err, ENOMEM, "nft result");
    }
  return 0;
}

int
nft_run (const char *netns, const char *commands, bool json, struct nft_result *result,
         struct nl_error *err)
{
  pthread_attr_t attr;
  pthread_t thread;
  int ret;

  result->output = NULL;
  result->error = NULL;
  pthread_mutex_lock (&cache_lock);
  ret = run_locked (netns, commands, json, result, err);
  if (cache.ctx)
    {
      clock_gettime (CLOCK_MONOTONIC, &cache.used);
      if (!cache.closer_running)
        {
          pthread_attr_init (&attr);
          pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
          cache.closer_running = pthread_create (&thread, &attr, closer_thread, NULL) == 0;
          pthread_attr_destroy (&attr);
        }
    }
  pthread_mutex_unlock (&cache_lock);
  return ret;
}

void
nft_result_free (struct nft_result *result)
{
  free (result->output);
  free (result->error);
  result->output = NULL;
  result->error = NULL;
}
