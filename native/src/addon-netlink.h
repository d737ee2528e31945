/* The addon's netlink and rootfs-write calls (addon-netlink.c). */
#ifndef NSBOX_ADDON_NETLINK_H
#define NSBOX_ADDON_NETLINK_H

#include <stdbool.h>

#include <node_api.h>

bool addon_netlink_register (napi_env env, napi_value exports);

#endif
