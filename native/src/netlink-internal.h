/* What netlink.c shares with the other rtnetlink files of the addon (netlink-tc.c): the
 * request/ack exchange and the name checks. Not part of the addon's API. */
#ifndef NSBOX_NETLINK_INTERNAL_H
#define NSBOX_NETLINK_INTERNAL_H

#include <libmnl/libmnl.h>

#include "netlink.h"

/* Sends one request and reads until its ack, giving each data message to cb (may be NULL). */
int nl_talk (struct nl_conn *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, struct nl_error *err,
             const char *what);
/* The index of a link by name in the connection's namespace (ENODEV when there is none). */
int link_index (struct nl_conn *c, const char *name, int *index, struct nl_error *err);
/* A valid link name (1 to IFNAMSIZ-1 bytes, no '/' or space). */
int check_name (const char *name, struct nl_error *err);

#endif
