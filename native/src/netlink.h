/* Network setup through rtnetlink (libmnl): links, addresses, routes, in any network
 * namespace (native/PROTOCOL.md §4, netlink). The network plugin's mechanism; it decides
 * nothing.
 *
 * Every call takes the network namespace to act in as a path (`/proc/PID/ns/net`,
 * `/run/netns/NAME`) or NULL/"" for the caller's own. The netlink socket is opened in that
 * namespace by a short-lived helper thread that enters it with setns and exits: a socket
 * stays bound to the namespace it was made in, so the calling thread (Node's main thread)
 * never changes namespace. */
#ifndef NSBOX_NETLINK_H
#define NSBOX_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_error
{
  int errnum;
  char what[256];
};

/* Runs fn(arg) on a helper thread inside the network namespace at `netns` (the caller's
 * own when NULL or empty); fn returns 0 or -errno. */
/* Fills err (errno and a printf-style description) and returns -1. */
int nl_fail (struct nl_error *err, int errnum, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

int nl_run_in_netns (const char *netns, int (*fn) (void *), void *arg, struct nl_error *err);

struct nl_conn;

int nl_open (const char *netns, struct nl_conn **out, struct nl_error *err);
void nl_close (struct nl_conn *conn);

/* Links. `netns_target` names a namespace by path (the peer of a veth is made there). An
 * address is a MAC as text ("02:00:5e:10:00:01"), NULL or "" for the kernel's random one. A
 * bridge given its address keeps it (NET_ADDR_SET); one without takes the lowest MAC of its
 * ports, and so changes whenever a port comes or goes. */
int nl_link_add_bridge (struct nl_conn *c, const char *name, const char *address,
                        struct nl_error *err);
int nl_link_add_veth (struct nl_conn *c, const char *name, const char *peer,
                      const char *peer_netns, const char *peer_address, const char *master, bool up,
                      struct nl_error *err);
int nl_link_set_netns (struct nl_conn *c, const char *name, const char *target_netns,
                       struct nl_error *err);
int nl_link_set_up (struct nl_conn *c, const char *name, bool up, struct nl_error *err);
int nl_link_set_master (struct nl_conn *c, const char *name, const char *master,
                        struct nl_error *err);
int nl_link_rename (struct nl_conn *c, const char *name, const char *new_name,
                    struct nl_error *err);
int nl_link_del (struct nl_conn *c, const char *name, struct nl_error *err);

struct nl_link
{
  int index;
  char name[16];
  char kind[16];
  char address[18]; /* the MAC as text, "" for a link without one (lo has 00:...) */
  int master;
  bool up;
  uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_dropped, tx_dropped;
};

/* Every link of the namespace; *links is malloc'ed (free it). */
int nl_link_list (struct nl_conn *c, struct nl_link **links, size_t *count, struct nl_error *err);

/* Addresses and routes; the family comes from the address text (IPv4 or IPv6). */
int nl_addr_add (struct nl_conn *c, const char *dev, const char *address, int prefix,
                 struct nl_error *err);
/* dst NULL or prefix 0: the default route. gateway NULL: a route on the link. onlink: the
 * gateway is on the link even though no address of the link covers it (routed boxes). */
int nl_route_add (struct nl_conn *c, const char *dst, int prefix, const char *gateway,
                  const char *dev, bool onlink, struct nl_error *err);
int nl_route_del (struct nl_conn *c, const char *dst, int prefix, const char *gateway,
                  const char *dev, struct nl_error *err);

/* Traffic control (netlink-tc.c). An ifb link (made down; bring it up with nl_link_set_up). A
 * token bucket as the root qdisc of dev, made or replaced in place: rate in bytes per second,
 * burst (bucket) and limit (queue) in bytes. The ingress qdisc of dev. A match-all filter on
 * dev's ingress redirecting every packet to target's egress. Deleting dev's root or ingress
 * qdisc (ENOENT when it has none of its own). */
int nl_link_add_ifb (struct nl_conn *c, const char *name, struct nl_error *err);
int nl_qdisc_tbf (struct nl_conn *c, const char *dev, uint64_t rate, uint32_t burst,
                  uint32_t limit, struct nl_error *err);
int nl_qdisc_ingress (struct nl_conn *c, const char *dev, struct nl_error *err);
int nl_qdisc_del (struct nl_conn *c, const char *dev, bool ingress, struct nl_error *err);
int nl_filter_redirect (struct nl_conn *c, const char *dev, const char *target,
                        struct nl_error *err);

/* Writes `value` to /proc/sys/<key> as seen from the namespace (net.* keys are per netns). */
int nl_sysctl_set (const char *netns, const char *key, const char *value, struct nl_error *err);

#endif
