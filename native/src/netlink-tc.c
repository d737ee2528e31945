/* Traffic control through rtnetlink (libmnl): what shaping a box's veth in both directions
 * needs, and nothing more — an ifb link, a token bucket (tbf) as a link's root qdisc, the
 * ingress qdisc, and a match-all u32 filter on it that redirects every packet to the egress
 * of another link (mirred). The kernel has no act_police, so a rate on what a link receives
 * is a tbf on the ifb that link's ingress is redirected to. See netlink.h. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <stdio.h>
#include <string.h>

#include "netlink-internal.h"
#include "netlink.h"

#define TBF_HANDLE 0x10000U  /* 1: */
#define INGRESS_HANDLE 0xffff0000U /* ffff: */

int
nl_link_add_ifb (struct nl_conn *c, const char *name, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[64];
  struct nlmsghdr *nlh;
  struct ifinfomsg *ifi;
  struct nlattr *info;

  if (check_name (name, err) < 0)
    return -1;
  nlh = mnl_nlmsg_put_header (buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  ifi = mnl_nlmsg_put_extra_header (nlh, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  info = mnl_attr_nest_start (nlh, IFLA_LINKINFO);
  mnl_attr_put_strz (nlh, IFLA_INFO_KIND, "ifb");
  mnl_attr_nest_end (nlh, info);
  snprintf (what, sizeof what, "create ifb '%s'", name);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

static struct nlmsghdr *
tc_msg (char *buf, uint16_t type, uint16_t flags, int index, uint32_t parent, uint32_t handle,
        uint32_t info)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct tcmsg *tcm;

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  tcm = mnl_nlmsg_put_extra_header (nlh, sizeof *tcm);
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = index;
  tcm->tcm_parent = parent;
  tcm->tcm_handle = handle;
  tcm->tcm_info = info;
  return nlh;
}

int
nl_qdisc_tbf (struct nl_conn *c, const char *dev, uint64_t rate, uint32_t burst, uint32_t limit,
              struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[96];
  struct tc_tbf_qopt qopt = { 0 };
  struct nlmsghdr *nlh;
  struct nlattr *opts;
  int index;

  if (rate == 0 || burst == 0 || limit == 0)
    return nl_fail (err, EINVAL, "tbf on '%s': rate, burst and limit must be positive", dev);
  if (link_index (c, dev, &index, err) < 0)
    return -1;
  /* Replaced in place when there is one: a rate changes live, without a gap. */
  nlh = tc_msg (buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, index, TC_H_ROOT, TBF_HANDLE, 0);
  mnl_attr_put_strz (nlh, TCA_KIND, "tbf");
  opts = mnl_attr_nest_start (nlh, TCA_OPTIONS);
  /* Bytes per second; past 32 bits the exact rate goes in TCA_TBF_RATE64. With a link layer
   * set the kernel needs no rate table. */
  qopt.rate.rate = rate >= UINT32_MAX ? UINT32_MAX : (uint32_t) rate;
  qopt.rate.linklayer = TC_LINKLAYER_ETHERNET;
  qopt.limit = limit;
  mnl_attr_put (nlh, TCA_TBF_PARMS, sizeof qopt, &qopt);
  if (rate >= UINT32_MAX)
    mnl_attr_put_u64 (nlh, TCA_TBF_RATE64, rate);
  mnl_attr_put_u32 (nlh, TCA_TBF_BURST, burst);
  mnl_attr_nest_end (nlh, opts);
  snprintf (what, sizeof what, "tbf %llu bytes/s on '%s'", (unsigned long long) rate, dev);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

int
nl_qdisc_ingress (struct nl_conn *c, const char *dev, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[64];
  struct nlmsghdr *nlh;
  int index;

  if (link_index (c, dev, &index, err) < 0)
    return -1;
  nlh = tc_msg (buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, index, TC_H_INGRESS, INGRESS_HANDLE, 0);
  mnl_attr_put_strz (nlh, TCA_KIND, "ingress");
  snprintf (what, sizeof what, "ingress qdisc on '%s'", dev);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

int
nl_qdisc_del (struct nl_conn *c, const char *dev, bool ingress, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[64];
  struct nlmsghdr *nlh;
  int index;

  if (link_index (c, dev, &index, err) < 0)
    return -1;
  nlh = tc_msg (buf, RTM_DELQDISC, 0, index, ingress ? TC_H_INGRESS : TC_H_ROOT,
                ingress ? INGRESS_HANDLE : 0, 0);
  snprintf (what, sizeof what, "delete %s qdisc of '%s'", ingress ? "ingress" : "root", dev);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}

int
nl_filter_redirect (struct nl_conn *c, const char *dev, const char *target, struct nl_error *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE], what[96];
  struct
  {
    struct tc_u32_sel sel;
    struct tc_u32_key key;
  } sel = { 0 };
  struct tc_mirred mirred = { 0 };
  struct nlmsghdr *nlh;
  struct nlattr *opts, *acts, *act, *act_opts;
  int index, target_index;

  if (link_index (c, dev, &index, err) < 0 || link_index (c, target, &target_index, err) < 0)
    return -1;
  /* Priority 1, every protocol, on the ingress qdisc. */
  nlh = tc_msg (buf, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, index, INGRESS_HANDLE, 0,
                TC_H_MAKE (1U << 16, htons (ETH_P_ALL)));
  mnl_attr_put_strz (nlh, TCA_KIND, "u32");
  opts = mnl_attr_nest_start (nlh, TCA_OPTIONS);
  /* One key with mask 0 matches every packet; terminal: its action decides. */
  sel.sel.flags = TC_U32_TERMINAL;
  sel.sel.nkeys = 1;
  mnl_attr_put (nlh, TCA_U32_SEL, sizeof sel, &sel);
  acts = mnl_attr_nest_start (nlh, TCA_U32_ACT);
  act = mnl_attr_nest_start (nlh, 1);
  mnl_attr_put_strz (nlh, TCA_ACT_KIND, "mirred");
  act_opts = mnl_attr_nest_start (nlh, TCA_ACT_OPTIONS);
  mirred.action = TC_ACT_STOLEN;
  mirred.eaction = TCA_EGRESS_REDIR;
  mirred.ifindex = (uint32_t) target_index;
  mnl_attr_put (nlh, TCA_MIRRED_PARMS, sizeof mirred, &mirred);
  mnl_attr_nest_end (nlh, act_opts);
  mnl_attr_nest_end (nlh, act);
  mnl_attr_nest_end (nlh, acts);
  mnl_attr_nest_end (nlh, opts);
  snprintf (what, sizeof what, "redirect what '%s' receives to '%s'", dev, target);
  return nl_talk (c, nlh, NULL, NULL, err, what);
}
