/* The text of each view: the host's file, with what the box's cgroup says instead of the
 * host's figures. Made when the kernel asks for the view's attributes (at most once a
 * second, proc-view.c), so a limit changed while the box runs shows within a second.
 *
 *   meminfo     MemTotal = the memory limit (when below the host's), MemFree = limit - usage,
 *               MemAvailable = free + page cache, the cache/anon/active lines from memory.stat,
 *               SwapTotal/SwapFree from the swap limit and usage; no limit: the host's file
 *   cpuinfo     the CPUs the box may use: its cpuset, cut to ceil(quota / period) with a CPU
 *               quota; renumbered from 0
 *   stat        cpu lines for those CPUs from the box's CPU time (user, system; idle the rest
 *               of its uptime), its running/blocked tasks, btime its start
 *   loadavg     the box's own load average (view_load_sample, every second)
 *   swaps       one `none virtual` line for a swap limit; the host's file without one
 *   diskstats   the line of the box root's block device (its disk image), nothing else
 *   cpu-online  0-(N-1) */
#include "proc-view.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum
{
  SMALL_FILE = 16384,
  CPUS_MAX = 1024,
  USER_HZ = 100,
};

/* The buffers every text is made with, one of each for all (one text at a time): each page
 * one touches is a page of the server's own, in every box — a buffer per file would touch
 * a dozen. `host` takes the host's file, `cgroup` a cgroup stat file. */
static struct
{
  char host[SMALL_FILE * 4];
  char cgroup[SMALL_FILE];
  int ids[CPUS_MAX];
  bool online[CPUS_MAX], allowed[CPUS_MAX];
} R;

/* ---- reading --------------------------------------------------------------------- */

/* A cgroup number: `max` and v1's huge "unlimited" (beyond 2^62) are none (false). */
static bool
read_u64 (const char *path, uint64_t *out)
{
  char buf[64];
  char *end;
  unsigned long long v;

  if (nsbox_read_small_file (path, buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9')
    return false;
  v = strtoull (buf, &end, 10);
  if (v >= (1ULL << 62))
    return false;
  *out = v;
  return true;
}

/* The number after `key` and `separator` at the start of a line of text; 0 when missing. */
static uint64_t
keyed_value (const char *text, const char *key, char separator)
{
  size_t klen = strlen (key);

  for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp (p, key, klen) == 0 && p[klen] == separator)
      return strtoull (p + klen + 1, NULL, 10);
  return 0;
}

/* `key value` of a stat-like text (memory.stat, cpu.stat, cpuacct.stat). */
static uint64_t
stat_value (const char *text, const char *key)
{
  return keyed_value (text, key, ' ');
}

/* The value of a `Key:   N kB` line of /proc/meminfo (kB). */
static uint64_t
meminfo_value (const char *text, const char *key)
{
  return keyed_value (text, key, ':');
}

/* A CPU list (`0-3,7`) into a set; the number of CPUs in it. */
static int
parse_cpus (const char *text, bool *set)
{
  int count = 0;
  const char *p = text;

  while (*p >= '0' && *p <= '9')
    {
      char *end;
      long a = strtol (p, &end, 10), b = a;
      if (*end == '-')
        b = strtol (end + 1, &end, 10);
      for (long i = a; i <= b && i < CPUS_MAX; i++)
        if (!set[i])
          set[i] = true, count++;
      p = *end == ',' ? end + 1 : end;
    }
  return count;
}

/* The host CPUs the box may use, in order (ids[]), at most ceil(quota / period). */
static int
box_cpus (const struct view_config *cfg, int *ids)
{
  bool *online = R.online, *allowed = R.allowed;
  char *buf = R.cgroup; /* free here: its users read it after this */
  int n = 0, limit = CPUS_MAX;
  uint64_t quota, period;

  memset (online, 0, sizeof R.online);
  memset (allowed, 0, sizeof R.allowed);
  if (nsbox_read_small_file ("/sys/devices/system/cpu/online", buf, sizeof R.cgroup) <= 0 || parse_cpus (buf, online) == 0)
    online[0] = true;
  if (nsbox_read_small_file (cfg->cpuset_cpus, buf, sizeof R.cgroup) <= 0 || parse_cpus (buf, allowed) == 0)
    memcpy (allowed, online, sizeof R.allowed);
  if (cfg->cpu_max && nsbox_read_small_file (cfg->cpu_max, buf, sizeof R.cgroup) > 0 && buf[0] >= '0' && buf[0] <= '9')
    {
      char *end;
      quota = strtoull (buf, &end, 10);
      period = strtoull (end, NULL, 10);
      if (period > 0)
        limit = (int) ((quota + period - 1) / period);
    }
  else if (read_u64 (cfg->cpu_quota, &quota) && read_u64 (cfg->cpu_period, &period) && period > 0)
    limit = (int) ((quota + period - 1) / period);
  for (int i = 0; i < CPUS_MAX && n < limit; i++)
    if (online[i] && allowed[i])
      ids[n++] = i;
  if (n == 0)
    ids[n++] = 0;
  return n;
}

/* ---- load ------------------------------------------------------------------------ */

void
view_load_sample (const struct view_config *cfg, struct view_load *load)
{
  static const double periods_s[3] = { 60, 300, 900 };
  char line[64], path[64], stat[512];
  uint32_t running = 0, blocked = 0, threads = 0;
  pid_t newest = 0;
  struct timespec ts;
  int64_t now;
  FILE *tasks;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  tasks = cfg->tasks ? fopen (cfg->tasks, "re") : NULL;
  while (tasks && fgets (line, sizeof line, tasks))
    {
      long tid = strtol (line, NULL, 10);
      char *state;

      if (tid <= 0)
        continue;
      threads++;
      if (tid > newest)
        newest = (pid_t) tid;
      snprintf (path, sizeof path, "/proc/%ld/stat", tid);
      if (nsbox_read_small_file (path, stat, sizeof stat) <= 0 || (state = strrchr (stat, ')')) == NULL)
        continue;
      /* `pid (comm) S ...`: the state follows the last ')' (comm may hold one). */
      if (state[1] == ' ' && state[2] == 'R')
        running++;
      else if (state[1] == ' ' && state[2] == 'D')
        blocked++;
    }
  if (tasks)
    fclose (tasks);
  /* The kernel's exponential decay, for the time that really passed (a respawned server
   * may come after a gap), with every second's sample rather than every five. */
  if (load->sampled_ms == 0)
    load->avg[0] = load->avg[1] = load->avg[2] = 0;
  else
    for (int i = 0; i < 3; i++)
      {
        double decay = exp (-(double) (now - load->sampled_ms) / 1000.0 / periods_s[i]);
        load->avg[i] = load->avg[i] * decay + (double) (running + blocked) * (1 - decay);
      }
  load->sampled_ms = now;
  load->running = running;
  load->blocked = blocked;
  load->threads = threads;
  /* The box's own number of its newest task (the last of NSpid), not the host's. */
  load->last_pid = 0;
  if (newest > 0)
    {
      snprintf (path, sizeof path, "/proc/%d/status", (int) newest);
      if (nsbox_read_small_file (path, stat, sizeof stat) > 0)
        {
          char *nspid = strstr (stat, "\nNSpid:");
          if (nspid)
            {
              char *end = strchr (nspid + 1, '\n');
              if (end)
                *end = '\0';
              char *last = strrchr (nspid, '\t');
              load->last_pid = last ? (uint32_t) strtoul (last + 1, NULL, 10) : 0;
            }
        }
    }
}

/* ---- rendering ------------------------------------------------------------------- */

static uint64_t
box_uptime_ms (const struct view_config *cfg)
{
  struct timespec ts;
  int64_t now;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  now = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
  return now > cfg->started_boottime_ns ? (uint64_t) (now - cfg->started_boottime_ns) / 1000000 : 0;
}

/* Replaces the number of `Key:` in a meminfo line by kb, keeping its layout. */
static void
meminfo_line (struct nsbox_buf *b, const char *line, size_t len, uint64_t kb)
{
  const char *colon = memchr (line, ':', len);
  char text[96];

  if (!colon)
    return nsbox_buf_mem (b, line, len);
  snprintf (text, sizeof text, "%.*s:%*llu kB\n", (int) (colon - line), line,
            (int) (colon - line) < 15 ? 15 - (int) (colon - line) + 8 : 8, (unsigned long long) kb);
  nsbox_buf_str (b, text);
}

static int
render_meminfo (const struct view_config *cfg, struct nsbox_buf *b)
{
  char *host = R.host, *mstat = R.cgroup;
  uint64_t limit, usage = 0, swap_limit = 0, swap_usage = 0;
  bool v1, has_swap_limit;
  struct
  {
    const char *key;
    uint64_t kb;
  } set[24];
  size_t n_set = 0;

  if (nsbox_read_small_file ("/proc/meminfo", host, sizeof R.host) <= 0)
    return -1;
  if (!read_u64 (cfg->memory_limit, &limit) || limit / 1024 >= meminfo_value (host, "MemTotal"))
    return nsbox_buf_str (b, host), 0;
  read_u64 (cfg->memory_usage, &usage);
  if (nsbox_read_small_file (cfg->memory_stat, mstat, sizeof R.cgroup) < 0)
    mstat[0] = '\0';
  v1 = strstr (mstat, "total_cache ") != NULL;
  uint64_t total = limit / 1024, used = usage / 1024 < total ? usage / 1024 : total;
  uint64_t cache = stat_value (mstat, v1 ? "total_cache" : "file") / 1024;
  uint64_t active_anon = stat_value (mstat, v1 ? "total_active_anon" : "active_anon") / 1024;
  uint64_t inactive_anon = stat_value (mstat, v1 ? "total_inactive_anon" : "inactive_anon") / 1024;
  uint64_t active_file = stat_value (mstat, v1 ? "total_active_file" : "active_file") / 1024;
  uint64_t inactive_file = stat_value (mstat, v1 ? "total_inactive_file" : "inactive_file") / 1024;
  uint64_t sreclaim = v1 ? 0 : stat_value (mstat, "slab_reclaimable") / 1024;
  uint64_t sunreclaim = v1 ? 0 : stat_value (mstat, "slab_unreclaimable") / 1024;
  uint64_t free_kb = total - used, available = free_kb + cache < total ? free_kb + cache : total;
  uint64_t host_swap = meminfo_value (host, "SwapTotal");

#define SET(k, v) (set[n_set++] = (typeof (set[0])){ (k), (v) })
  SET ("MemTotal", total);
  SET ("MemFree", free_kb);
  SET ("MemAvailable", available);
  SET ("Buffers", 0);
  SET ("Cached", cache);
  SET ("Active", active_anon + active_file);
  SET ("Inactive", inactive_anon + inactive_file);
  SET ("Active(anon)", active_anon);
  SET ("Inactive(anon)", inactive_anon);
  SET ("Active(file)", active_file);
  SET ("Inactive(file)", inactive_file);
  SET ("AnonPages", stat_value (mstat, v1 ? "total_rss" : "anon") / 1024);
  SET ("Mapped", stat_value (mstat, v1 ? "total_mapped_file" : "file_mapped") / 1024);
  SET ("Shmem", stat_value (mstat, v1 ? "total_shmem" : "shmem") / 1024);
  SET ("Dirty", stat_value (mstat, v1 ? "total_dirty" : "file_dirty") / 1024);
  SET ("Writeback", stat_value (mstat, v1 ? "total_writeback" : "file_writeback") / 1024);
  SET ("Slab", sreclaim + sunreclaim);
  SET ("SReclaimable", sreclaim);
  SET ("SUnreclaim", sunreclaim);
  /* Swap: v1's memsw counts memory and swap together. */
  has_swap_limit = read_u64 (cfg->swap_limit, &swap_limit);
  read_u64 (cfg->swap_usage, &swap_usage);
  if (cfg->swap_with_memory)
    {
      swap_limit = swap_limit > limit ? swap_limit - limit : 0;
      swap_usage = swap_usage > usage ? swap_usage - usage : 0;
    }
  if (has_swap_limit)
    {
      uint64_t st = swap_limit / 1024 < host_swap ? swap_limit / 1024 : host_swap;
      uint64_t su = swap_usage / 1024 < st ? swap_usage / 1024 : st;
      SET ("SwapTotal", st);
      SET ("SwapFree", st - su);
    }
#undef SET

  for (const char *p = host; *p;)
    {
      const char *end = strchr (p, '\n');
      size_t len = end ? (size_t) (end - p + 1) : strlen (p);
      bool replaced = false;

      for (size_t i = 0; i < n_set && !replaced; i++)
        {
          size_t klen = strlen (set[i].key);
          if (len > klen && strncmp (p, set[i].key, klen) == 0 && p[klen] == ':')
            meminfo_line (b, p, len, set[i].kb), replaced = true;
        }
      if (!replaced)
        nsbox_buf_mem (b, p, len);
      p += len;
    }
  return 0;
}

static int
render_cpuinfo (const struct view_config *cfg, struct nsbox_buf *b)
{
  int *ids = R.ids, n = box_cpus (cfg, ids);
  char *host = NULL;
  size_t len;
  int fd = open ("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  struct nsbox_error err;

  if (fd < 0 || nsbox_read_all (fd, 1 << 24, &host, &len, &err) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  close (fd);
  /* Blocks separated by a blank line, each starting with `processor : N`. */
  for (char *block = host; block && *block;)
    {
      char *next = strstr (block, "\n\n");
      long cpu = -1;
      int index = -1;

      if (next)
        *next = '\0', next += 2;
      if (strncmp (block, "processor", 9) == 0)
        cpu = strtol (strchr (block, ':') ? strchr (block, ':') + 1 : block, NULL, 10);
      for (int i = 0; i < n; i++)
        if (ids[i] == cpu)
          index = i;
      if (index >= 0)
        for (char *line = block; line && *line;)
          {
            char *eol = strchr (line, '\n');
            char text[64];
            size_t l = eol ? (size_t) (eol - line) : strlen (line);

            if (strncmp (line, "processor", 9) == 0)
              snprintf (text, sizeof text, "processor\t: %d", index), nsbox_buf_str (b, text);
            else if (strncmp (line, "siblings", 8) == 0)
              snprintf (text, sizeof text, "siblings\t: %d", n), nsbox_buf_str (b, text);
            else if (strncmp (line, "cpu cores", 9) == 0)
              snprintf (text, sizeof text, "cpu cores\t: %d", n), nsbox_buf_str (b, text);
            else if (strncmp (line, "core id", 7) == 0)
              snprintf (text, sizeof text, "core id\t\t: %d", index), nsbox_buf_str (b, text);
            else
              nsbox_buf_mem (b, line, l);
            nsbox_buf_str (b, "\n");
            line = eol ? eol + 1 : NULL;
          }
      if (index >= 0)
        nsbox_buf_str (b, "\n");
      block = next;
    }
  free (host);
  return 0;
}

static int
render_stat (const struct view_config *cfg, const struct view_load *load, struct nsbox_buf *b)
{
  int *ids = R.ids, n = box_cpus (cfg, ids);
  char *text = R.cgroup;
  uint64_t user = 0, system = 0, up_ticks = box_uptime_ms (cfg) * USER_HZ / 1000, idle;
  char line[256];
  struct timespec real;

  if (nsbox_read_small_file (cfg->cpu_usage_v1, text, sizeof R.cgroup) > 0)
    user = stat_value (text, "user"), system = stat_value (text, "system");
  else if (nsbox_read_small_file (cfg->cpu_stat_v2, text, sizeof R.cgroup) > 0)
    user = stat_value (text, "user_usec") / (1000000 / USER_HZ),
    system = stat_value (text, "system_usec") / (1000000 / USER_HZ);
  idle = up_ticks * (uint64_t) n > user + system ? up_ticks * (uint64_t) n - user - system : 0;
  snprintf (line, sizeof line, "cpu  %llu 0 %llu %llu 0 0 0 0 0 0\n", (unsigned long long) user,
            (unsigned long long) system, (unsigned long long) idle);
  nsbox_buf_str (b, line);
  for (int i = 0; i < n; i++)
    {
      snprintf (line, sizeof line, "cpu%d %llu 0 %llu %llu 0 0 0 0 0 0\n", i, (unsigned long long) (user / n),
                (unsigned long long) (system / n), (unsigned long long) (idle / n));
      nsbox_buf_str (b, line);
    }
  clock_gettime (CLOCK_REALTIME, &real);
  snprintf (line, sizeof line,
            "intr 0\nctxt 0\nbtime %lld\nprocesses %u\nprocs_running %u\nprocs_blocked %u\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
            (long long) real.tv_sec - (long long) (box_uptime_ms (cfg) / 1000), load->threads,
            load->running > 0 ? load->running : 1, load->blocked);
  nsbox_buf_str (b, line);
  return 0;
}

static int
render_swaps (const struct view_config *cfg, struct nsbox_buf *b)
{
  uint64_t limit, usage = 0, mem_limit = 0, mem_usage = 0;
  char line[160];

  if (!read_u64 (cfg->swap_limit, &limit))
    {
      if (nsbox_read_small_file ("/proc/swaps", R.host, sizeof R.host) < 0)
        return -1;
      return nsbox_buf_str (b, R.host), 0;
    }
  read_u64 (cfg->swap_usage, &usage);
  if (cfg->swap_with_memory)
    {
      read_u64 (cfg->memory_limit, &mem_limit);
      read_u64 (cfg->memory_usage, &mem_usage);
      limit = limit > mem_limit ? limit - mem_limit : 0;
      usage = usage > mem_usage ? usage - mem_usage : 0;
    }
  nsbox_buf_str (b, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  if (limit > 0)
    {
      snprintf (line, sizeof line, "none                                    virtual\t\t%llu\t\t%llu\t\t0\n",
                (unsigned long long) (limit / 1024), (unsigned long long) (usage / 1024));
      nsbox_buf_str (b, line);
    }
  return 0;
}

static int
render_diskstats (const struct view_config *cfg, struct nsbox_buf *b)
{
  if (nsbox_read_small_file ("/proc/diskstats", R.host, sizeof R.host) < 0)
    return -1;
  for (const char *p = R.host; *p;)
    {
      const char *end = strchr (p, '\n');
      size_t len = end ? (size_t) (end - p + 1) : strlen (p);
      unsigned maj = 0, min = 0;

      if (cfg->disk_dev_major != 0 && sscanf (p, "%u %u", &maj, &min) == 2 && maj == cfg->disk_dev_major
          && min == cfg->disk_dev_minor)
        nsbox_buf_mem (b, p, len);
      p += len;
    }
  return 0;
}

int
view_render (const struct view_config *cfg, const struct view_load *load, enum view_file which,
             char **out, size_t *len)
{
  struct nsbox_buf b = NSBOX_BUF_GROWING;
  char text[96];
  int rc = 0;

  nsbox_buf_str (&b, ""); /* an empty text is a text */
  switch (which)
    {
    case VIEW_MEMINFO:
      rc = render_meminfo (cfg, &b);
      break;
    case VIEW_CPUINFO:
      rc = render_cpuinfo (cfg, &b);
      break;
    case VIEW_STAT:
      rc = render_stat (cfg, load, &b);
      break;
    case VIEW_LOADAVG:
      snprintf (text, sizeof text, "%.2f %.2f %.2f %u/%u %u\n", load->avg[0], load->avg[1], load->avg[2],
                load->running > 0 ? load->running : 1, load->threads, load->last_pid);
      nsbox_buf_str (&b, text);
      break;
    case VIEW_SWAPS:
      rc = render_swaps (cfg, &b);
      break;
    case VIEW_DISKSTATS:
      rc = render_diskstats (cfg, &b);
      break;
    case VIEW_CPU_ONLINE:
      {
        int n = box_cpus (cfg, R.ids);
        snprintf (text, sizeof text, n > 1 ? "0-%d\n" : "0\n", n - 1);
        nsbox_buf_str (&b, text);
        break;
      }
    default:
      rc = -1;
    }
  if (rc < 0 || b.failed)
    {
      free (b.p);
      return -1;
    }
  *out = b.p;
  *len = b.len;
  return 0;
}
