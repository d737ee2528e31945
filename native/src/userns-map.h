/* User namespaces with given id maps, for idmapped mounts (the launcher's `tree` op, the
 * migration plugin's nsbox-idmap-root). */
#ifndef NSBOX_USERNS_MAP_H
#define NSBOX_USERNS_MAP_H

#include "common.h"

#include <sys/types.h>

/* Writes TEXT to /proc/PID/FILE in one write(2): setgroups, uid_map, gid_map. */
int nsbox_write_proc_file (pid_t pid, const char *file, const char *text, struct nsbox_error *err);

/* A user namespace with UIDMAP and GIDMAP (uid_map lines), made by a throwaway child that
 * waits while its maps are written and its namespace opened, then is killed and reaped (as
 * runc and crun make one). The namespace's fd in *out; 0, or -1 with err set. */
int nsbox_mapped_userns (const char *uidmap, const char *gidmap, int *out, struct nsbox_error *err);

#endif
