/* rtnetlink through libmnl: see netlink.h. One request per call, each acknowledged, so a
 * failure names the step that failed and nothing after it ran. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"
#include "netlink-internal.h"

struct nl_conn
{
  struct mnl_socket *sock;
  unsigned int portid;
  unsigned int seq;
};

int
nl_fail (struct nl_error *err, int errnum, const char *fmt, ...)
{
  va_list ap;

  err->errnum = errnum;
  va_start (ap, fmt);
  vsnprintf (err->what, sizeof err->what, fmt, ap);
  va_end (ap);
  return -1;
}

/* --- the helper thread that enters a namespace ------------------------------------- */

struct in_netns
{
  int ns_fd;
  int (*fn) (void *);
  void *arg;
  int ret;
  int setns_errno;
};

static void *
in_netns_thread (void *data)
{
  struct in_netns *job = data;

  if (job->ns_fd >= 0 && setns (job->ns_fd, CLONE_NEWNET) < 0)
    {
      job->setns_errno = errno;
      return NULL;
    }
  job->ret = job->fn (job->arg);
  /* The thread ends here, and its namespace with it: nothing else ever ran in it. */
  return NULL;
}

int
nl_run_in_netns (const char *netns, int (*fn) (void *), void *arg, struct nl_error *err)
{
  struct in_netns job = { .ns_fd = -1, .fn = fn, .arg = arg };
  pthread_t thread;
  int e;

  if (!netns || !netns[0])
    {
      job.ret = fn (arg);
      return job.ret < 0 ? nl_fail (err, -job.ret, "in the current netns") : 0;
    }
  job.ns_fd = open (netns, O_RDONLY | O_CLOEXEC);
  if (job.ns_fd < 0)
    return nl_fail (err, errno, "open netns '%s'", netns);
  e = pthread_create (&thread, NULL, in_netns_thread, &job);
  if (e == 0)
    e = pthread_join (thread, NULL);
  close (job.ns_fd);
  if (e != 0)
    return nl_fail (err, e, "helper thread for netns '%s'", netns);
  if (job.setns_errno)
    return nl_fail (err, job.setns_errno, "setns '%s'", netns);
  if (job.ret < 0)
    return nl_fail (err, -job.ret, "in netns '%s'", netns);
  return 0;
}

/* --- connection ------------------------------------------------------------------- */

static int
open_socket (void *data)
{
  struct nl_conn *conn = data;

  conn->sock = mnl_socket_open2 (NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!conn->sock)
    return -errno;
  if (mnl_socket_bind (conn->sock, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      int e = errno;
      mnl_socket_close (conn->sock);
      conn->sock = NULL;
      return -e;
    }
  return 0;
}

int
nl_open (const char *netns, struct nl_conn **out, struct nl_error *err)
{
  struct nl_conn *conn = calloc (1, sizeof *conn);

  if (!conn)
    return nl_fail (err, ENOMEM, "netlink connection");
  if (nl_run_in_netns (netns, open_socket, conn, err) < 0)
    {
      char what[sizeof err->what];
      snprintf (what, sizeof what, "%s", err->what);
      free (conn);
      return nl_fail (err, err->errnum, "netlink socket (%s)", what);
    }
  conn->portid = mnl_socket_get_portid (conn->sock);
  conn->seq = (unsigned int) time (NULL);
  *out = conn;
  return 0;
}

void
nl_close (struct nl_conn *conn)
{
  if (!conn)
    return;
  if (conn->sock)
    mnl_socket_close (conn->sock);
  free (conn);
}

/* Sends one request and reads until its ack (or, for a dump, its end), giving each data
 * message to cb. Returns 0 or -1 with err filled (errno from the kernel's answer). */
int
nl_talk (struct nl_conn *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, struct nl_error *err,
         const char *what)
{
  char buf[32768]; /* MNL_SOCKET_DUMP_SIZE, which libmnl 1.0.4 lacks */
  ssize_t n;
  int ret;

  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++c->seq;
  if (mnl_socket_sendto (c->sock, nlh, nlh->nlmsg_len) < 0)
    return nl_fail (err, errno, "%s: send", what);
  for (;;)
    {
      n = mnl_socket_recvfrom (c->sock, buf, sizeof buf);
      if (n < 0)
        return nl_fail (err, errno, "%s: receive", what);
      ret = mnl_cb_run (buf, (size_t) n, nlh->nlmsg_seq, c->portid, cb, data);
      if (ret < 0)
        return nl_fail (err, errno, "%s", what);
      if (ret == MNL_CB_STOP)
        return 0;
    }
}

static struct nlmsghdr *
link_msg (char *buf, uint16_t type, uint16_t flags, int index, struct ifinfomsg **ifi)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  *ifi = mnl_nlmsg_put_extra_header (nlh, sizeof **ifi);
  (*ifi)->ifi_family = AF_UNSPEC;
  (*ifi)->ifi_index = index;
  return nlh;
}

/* --- link lookups ------------------------------------------------------------------ */

static int
attr_link_cb (const struct nlattr *attr, void *data)
{
  const struct nlattr **tb = data;
  int type = mnl_attr_get_type (attr);

  if (mnl_attr_type_valid (attr, IFLA_MAX) < 0)
    return MNL_CB_OK;
  tb[type] = attr;
  return MNL_CB_OK;
}

static int
attr_linkinfo_cb (const struct nlattr *attr, void *data)
{
  const struct nlattr **tb = data;
  int type = mnl_attr_get_type (attr);

  if (mnl_attr_type_valid (attr, IFLA_INFO_MAX) < 0)
    return MNL_CB_OK;
  tb[type] = attr;
  return MNL_CB_OK;
}

static void
parse_link (const struct nlmsghdr *nlh, struct nl_link *link)
{
  struct ifinfomsg *ifi = mnl_nlmsg_get_payload (nlh);
  const struct nlattr *tb[IFLA_MAX + 1] = { 0 };

  memset (link, 0, sizeof *link);
  link->index = ifi->ifi_index;
  link->up = (ifi->ifi_flags & IFF_UP) != 0;
  mnl_attr_parse (nlh, sizeof *ifi, attr_link_cb, tb);
  if (tb[IFLA_IFNAME])
    snprintf (link->name, sizeof link->name, "%s", mnl_attr_get_str (tb[IFLA_IFNAME]));
  if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len (tb[IFLA_ADDRESS]) == 6)
    {
      const unsigned char *mac = mnl_attr_get_payload (tb[IFLA_ADDRESS]);
      snprintf (link->address, sizeof link->address, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                mac[2], mac[3], mac[4], mac[5]);
    }
  if (tb[IFLA_MASTER])
    link->master = (int) mnl_attr_get_u32 (tb[IFLA_MASTER]);
  if (tb[IFLA_LINKINFO])
    {
      const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
      mnl_attr_parse_nested (tb[IFLA_LINKINFO], attr_linkinfo_cb, info);
      if (info[IFLA_INFO_KIND])
        snprintf (link->kind, sizeof link->kind, "%s", mnl_attr_get_str (info[IFLA_INFO_KIND]));
    }
  if (tb[IFLA_STATS64]
      && mnl_attr_get_payload_len (tb[IFLA_STATS64]) >= sizeof (struct rtnl_link_stats64))
    {
      struct rtnl_link_stats64 stats;
      memcpy (&stats, mnl_attr_get_payload (tb[IFLA_STATS64]), sizeof stats);
      link->rx_bytes = stats.rx_bytes;
      link->tx_bytes = stats.tx_bytes;
      link->rx_packets = stats.rx_packets;
      link->tx_packets = stats.tx_packets;
      link->rx_dropped = stats.rx_dropped;
      link->tx_dropped = stats.tx_dropped;
    }
}

static int
one_link_cb (const struct nlmsghdr *nlh, void *data)
{
  if (nlh->nlmsg_type == RTM_NEWLINK)
    parse_link (nlh, data);
  return MNL_CB_OK;
}

/* The index of a link by name, in the connection's namespace (if_nametoindex would ask
 * the caller's). */
int
link_index (struct nl_conn *c, const char *name, int *index, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = link_msg (buf, RTM_GETLINK, 0, 0, &ifi);
  struct nl_link link = { 0 };
  char what[64];

  if (strlen (name) >= IFNAMSIZ)
    return nl_fail (err, EINVAL, "link name '%s' is longer than %d bytes", name, IFNAMSIZ - 1);
  mnl_attr_put_u32 (nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  snprintf (what, sizeof what, "find link '%s'", name);
  if (nl_talk (c, nlh, one_link_cb, &link, err, what) < 0)
    return -1;
  if (link.index <= 0)
    return nl_fail (err, ENODEV, "%s", what);
  *index = link.index;
  return 0;
}

struct link_list
{
  struct nl_link *links;
  size_t count, capacity;
  bool failed;
};

static int
list_link_cb (const struct nlmsghdr *nlh, void *data)
{
  struct link_list *list = data;

  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;
  if (list->count == list->capacity)
    {
      size_t capacity = list->capacity ? list->capacity * 2 : 16;
      struct nl_link *grown = realloc (list->links, capacity * sizeof *grown);
      if (!grown)
        {
          list->failed = true;
          return MNL_CB_OK;
        }
      list->links = grown;
      list->capacity = capacity;
    }
  parse_link (nlh, &list->links[list->count++]);
  return MNL_CB_OK;
}

int
nl_link_list (struct nl_conn *c, struct nl_link **links, size_t *count, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = link_msg (buf, RTM_GETLINK, NLM_F_DUMP, 0, &ifi);
  struct link_list list = { 0 };

  if (nl_talk (c, nlh, list_link_cb, &list, err, "list links") < 0 || list.failed)
    {
      free (list.links);
      return list.failed ? nl_fail (err, ENOMEM, "list links") : -1;
    }
  *links = list.links;
  *count = list.count;
  return 0;
}

/* --- link changes ------------------------------------------------------------------ */

int
check_name (const char *name, struct nl_error *err)
{
  if (!name || !name[0] || strlen (name) >= IFNAMSIZ || strchr (name, '/') || strchr (name, ' '))
    return nl_fail (err, EINVAL, "bad link name '%s' (1 to %d bytes, no '/' or space)",
                    name ? name : "", IFNAMSIZ - 1);
  return 0;
}

/* A MAC in text form: six hex pairs separated by ':'. NULL or "" is no address (mac untouched). */
static int
parse_mac (const char *text, unsigned char mac[6], bool *given, struct nl_error *err)
{
  unsigned int b[6];
  char end;

  *given = text != NULL && text[0] != '\0';
  if (!*given)
    return 0;
  if (sscanf (text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6
      || strlen (text) != 17)
    return nl_fail (err, EINVAL, "'%.32s' is not a MAC address (six hex pairs, ':' between)", text);
  if (b[0] & 1)
    return nl_fail (err, EINVAL, "MAC address '%s' is a multicast one", text);
  for (int i = 0; i < 6; i++)
    mac[i] = (unsigned char) b[i];
  return 0;
}

int
nl_link_add_bridge (struct nl_conn *c, const char *name, const char *address, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[64];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh;
  struct nlattr *info;
  unsigned char mac[6];
  bool has_mac;

  if (check_name (name, err) < 0 || parse_mac (address, mac, &has_mac, err) < 0)
    return -1;
  nlh = link_msg (buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, &ifi);
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  if (has_mac)
    mnl_attr_put (nlh, IFLA_ADDRESS, sizeof mac, mac);
  info = mnl_attr_nest_start (nlh, IFLA_LINKINFO);
  mnl_attr_put_strz (nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end (nlh, info);
  snprintf (what, sizeof what, "create bridge '%s'", name);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

/* A veth pair; the peer may be made in another namespace with a MAC of its own. `master`
 * (a bridge's name) and `up` apply to `name` in the same message: a box's start makes its host
 * end a bridge port that is up in one change of the kernel's, not three (each change waits for
 * the rtnl lock every namespace of the host shares). */
int
nl_link_add_veth (struct nl_conn *c, const char *name, const char *peer, const char *peer_netns,
                  const char *peer_address, const char *master, bool up, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[96];
  struct ifinfomsg *ifi, *peer_ifi;
  struct nlmsghdr *nlh;
  struct nlattr *info, *data, *peer_nest;
  unsigned char peer_mac[6];
  bool has_peer_mac;
  int ns_fd = -1, master_index = 0, ret;

  if (check_name (name, err) < 0 || check_name (peer, err) < 0
      || parse_mac (peer_address, peer_mac, &has_peer_mac, err) < 0)
    return -1;
  if (master && master[0] && link_index (c, master, &master_index, err) < 0)
    return -1;
  if (peer_netns && peer_netns[0])
    {
      ns_fd = open (peer_netns, O_RDONLY | O_CLOEXEC);
      if (ns_fd < 0)
        return nl_fail (err, errno, "open netns '%s'", peer_netns);
    }
  nlh = link_msg (buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, &ifi);
  if (up)
    {
      ifi->ifi_flags = IFF_UP;
      ifi->ifi_change = IFF_UP;
    }
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  if (master_index > 0)
    mnl_attr_put_u32 (nlh, IFLA_MASTER, (uint32_t) master_index);
  info = mnl_attr_nest_start (nlh, IFLA_LINKINFO);
  mnl_attr_put_strz (nlh, IFLA_INFO_KIND, "veth");
  data = mnl_attr_nest_start (nlh, IFLA_INFO_DATA);
  peer_nest = mnl_attr_nest_start (nlh, VETH_INFO_PEER);
  /* The peer's own ifinfomsg header comes first inside its nest. */
  peer_ifi = mnl_nlmsg_put_extra_header (nlh, sizeof *peer_ifi);
  peer_ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (nlh, IFLA_IFNAME, peer);
  if (has_peer_mac)
    mnl_attr_put (nlh, IFLA_ADDRESS, sizeof peer_mac, peer_mac);
  if (ns_fd >= 0)
    mnl_attr_put_u32 (nlh, IFLA_NET_NS_FD, (uint32_t) ns_fd);
  mnl_attr_nest_end (nlh, peer_nest);
  mnl_attr_nest_end (nlh, data);
  mnl_attr_nest_end (nlh, info);
  snprintf (what, sizeof what, "create veth '%s' (peer '%s')", name, peer);
  ret = nl_talk (c, nlh, NULL, NULL, err, what);
  if (ns_fd >= 0)
    close (ns_fd);
  return ret;
}

/* Applies one change to a link found by name; fill adds the attributes of the change. */
static int
link_change (struct nl_conn *c, const char *name, unsigned int flags, unsigned int change,
             void (*fill) (struct nlmsghdr *, const void *), const void *arg, const char *what,
             struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh;
  int index;

  if (link_index (c, name, &index, err) < 0)
    return -1;
  nlh = link_msg (buf, RTM_NEWLINK, 0, index, &ifi);
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  if (fill)
    fill (nlh, arg);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

static void
fill_ns_fd (struct nlmsghdr *nlh, const void *arg)
{
  mnl_attr_put_u32 (nlh, IFLA_NET_NS_FD, (uint32_t) * (const int *) arg);
}

int
nl_link_set_netns (struct nl_conn *c, const char *name, const char *target_netns,
                   struct nl_error *err)
{
  char what[256];
  int ns_fd, ret;

  ns_fd = open (target_netns, O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0)
    return nl_fail (err, errno, "open netns '%s'", target_netns);
  snprintf (what, sizeof what, "move link '%s' to netns '%s'", name, target_netns);
  ret = link_change (c, name, 0, 0, fill_ns_fd, &ns_fd, what, err);
  close (ns_fd);
  return ret;
}

int
nl_link_set_up (struct nl_conn *c, const char *name, bool up, struct nl_error *err)
{
  char what[64];

  snprintf (what, sizeof what, "set link '%s' %s", name, up ? "up" : "down");
  return link_change (c, name, up ? IFF_UP : 0, IFF_UP, NULL, NULL, what, err);
}

static void
fill_master (struct nlmsghdr *nlh, const void *arg)
{
  mnl_attr_put_u32 (nlh, IFLA_MASTER, (uint32_t) * (const int *) arg);
}

int
nl_link_set_master (struct nl_conn *c, const char *name, const char *master, struct nl_error *err)
{
  char what[64];
  int master_index;

  if (link_index (c, master, &master_index, err) < 0)
    return -1;
  snprintf (what, sizeof what, "attach link '%s' to '%s'", name, master);
  return link_change (c, name, 0, 0, fill_master, &master_index, what, err);
}

static void
fill_name (struct nlmsghdr *nlh, const void *arg)
{
  mnl_attr_put_strz (nlh, IFLA_IFNAME, arg);
}

int
nl_link_rename (struct nl_conn *c, const char *name, const char *new_name, struct nl_error *err)
{
  char what[64];

  if (check_name (new_name, err) < 0)
    return -1;
  snprintf (what, sizeof what, "rename link '%s' to '%s'", name, new_name);
  return link_change (c, name, 0, 0, fill_name, new_name, what, err);
}

int
nl_link_del (struct nl_conn *c, const char *name, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[64];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh;
  int index;

  if (link_index (c, name, &index, err) < 0)
    return -1;
  nlh = link_msg (buf, RTM_DELLINK, 0, index, &ifi);
  snprintf (what, sizeof what, "delete link '%s'", name);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

/* --- addresses and routes ---------------------------------------------------------- */

struct ip_text
{
  int family;
  unsigned char bytes[16];
  size_t len;
};

static int
parse_ip (const char *text, struct ip_text *ip, const char *field, struct nl_error *err)
{
  if (inet_pton (AF_INET, text, ip->bytes) == 1)
    {
      ip->family = AF_INET;
      ip->len = 4;
      return 0;
    }
  if (inet_pton (AF_INET6, text, ip->bytes) == 1)
    {
      ip->family = AF_INET6;
      ip->len = 16;
      return 0;
    }
  return nl_fail (err, EINVAL, "%s '%s' is not an IPv4 or IPv6 address", field, text);
}

int
nl_addr_add (struct nl_conn *c, const char *dev, const char *address, int prefix,
             struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[128];
  struct ip_text ip;
  struct nlmsghdr *nlh;
  struct ifaddrmsg *ifa;
  int index;

  if (parse_ip (address, &ip, "address", err) < 0)
    return -1;
  if (prefix < 0 || prefix > (int) ip.len * 8)
    return nl_fail (err, EINVAL, "prefix %d out of range for '%s'", prefix, address);
  if (link_index (c, dev, &index, err) < 0)
    return -1;
  nlh = mnl_nlmsg_put_header (buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  ifa = mnl_nlmsg_put_extra_header (nlh, sizeof *ifa);
  ifa->ifa_family = (unsigned char) ip.family;
  ifa->ifa_prefixlen = (unsigned char) prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned int) index;
  /* No duplicate address detection: the address is ours by the claim, and DAD would leave
   * it tentative (unusable) for a second or more after the box starts. */
  if (ip.family == AF_INET6)
    ifa->ifa_flags = IFA_F_NODAD;
  mnl_attr_put (nlh, IFA_LOCAL, ip.len, ip.bytes);
  mnl_attr_put (nlh, IFA_ADDRESS, ip.len, ip.bytes);
  snprintf (what, sizeof what, "add address %s/%d to '%s'", address, prefix, dev);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

static int
route_msg (struct nl_conn *c, uint16_t type, const char *dst, int prefix, const char *gateway,
           const char *dev, bool onlink, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[160];
  struct ip_text dst_ip = { 0 }, gw_ip = { 0 };
  struct nlmsghdr *nlh;
  struct rtmsg *rtm;
  int family = 0, index = 0;

  if (dst && dst[0])
    {
      if (parse_ip (dst, &dst_ip, "route destination", err) < 0)
        return -1;
      family = dst_ip.family;
    }
  if (gateway && gateway[0])
    {
      if (parse_ip (gateway, &gw_ip, "gateway", err) < 0)
        return -1;
      if (family && family != gw_ip.family)
        return nl_fail (err, EINVAL, "gateway '%s' is not of the family of '%s'", gateway, dst);
      family = gw_ip.family;
    }
  if (!family)
    return nl_fail (err, EINVAL, "a route needs a destination or a gateway");
  if (prefix < 0 || prefix > (family == AF_INET ? 32 : 128))
    return nl_fail (err, EINVAL, "route prefix %d out of range", prefix);
  if (dev && dev[0] && link_index (c, dev, &index, err) < 0)
    return -1;
  nlh = mnl_nlmsg_put_header (buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0;
  rtm = mnl_nlmsg_put_extra_header (nlh, sizeof *rtm);
  rtm->rtm_family = (unsigned char) family;
  rtm->rtm_dst_len = (unsigned char) (dst_ip.family ? prefix : 0);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = gw_ip.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (onlink)
    rtm->rtm_flags |= RTNH_F_ONLINK;
  if (dst_ip.family && prefix > 0)
    mnl_attr_put (nlh, RTA_DST, dst_ip.len, dst_ip.bytes);
  if (gw_ip.family)
    mnl_attr_put (nlh, RTA_GATEWAY, gw_ip.len, gw_ip.bytes);
  if (index)
    mnl_attr_put_u32 (nlh, RTA_OIF, (uint32_t) index);
  snprintf (what, sizeof what, "%s route %s/%d%s%s%s%s", type == RTM_NEWROUTE ? "add" : "delete",
            dst && dst[0] ? dst : "default", prefix, gw_ip.family ? " via " : "",
            gw_ip.family ? gateway : "", index ? " dev " : "", index ? dev : "");
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

int
nl_route_add (struct nl_conn *c, const char *dst, int prefix, const char *gateway,
              const char *dev, bool onlink, struct nl_error *err)
{
  return route_msg (c, RTM_NEWROUTE, dst, prefix, gateway, dev, onlink, err);
}

int
nl_route_del (struct nl_conn *c, const char *dst, int prefix, const char *gateway,
              const char *dev, struct nl_error *err)
{
  return route_msg (c, RTM_DELROUTE, dst, prefix, gateway, dev, false, err);
}

/* --- sysctl ------------------------------------------------------------------------ */

struct sysctl_job
{
  const char *key;
  const char *value;
};

static int
write_sysctl (void *data)
{
  struct sysctl_job *job = data;
  char path[256];
  size_t len = strlen (job->value);
  int fd;
  ssize_t n;

  /* net.ipv4.ip_forward → /proc/sys/net/ipv4/ip_forward; /proc/sys/net shows the opener's netns. */
  snprintf (path, sizeof path, "/proc/sys/%s", job->key);
  for (char *p = path + strlen ("/proc/sys/"); *p; p++)
    if (*p == '.')
      *p = '/';
  fd = open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -errno;
  n = write (fd, job->value, len);
  if (n < 0 || (size_t) n != len)
    {
      int e = n < 0 ? errno : EIO;
      close (fd);
      return -e;
    }
  close (fd);
  return 0;
}

int
nl_sysctl_set (const char *netns, const char *key, const char *value, struct nl_error *err)
{
  struct sysctl_job job = { key, value };

  if (strstr (key, "..") || strchr (key, '/') || strncmp (key, "net.", 4) != 0)
    return nl_fail (err, EINVAL, "sysctl '%s': only net.* keys", key);
  if (nl_run_in_netns (netns, write_sysctl, &job, err) < 0)
    return nl_fail (err, err->errnum, "sysctl %s=%s (%s)", key, value, netns && netns[0] ? netns : "current netns");
  return 0;
}
