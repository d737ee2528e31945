/* The addon's nftables call (addon-nftables.c). */
#ifndef NSBOX_ADDON_NFTABLES_H
#define NSBOX_ADDON_NFTABLES_H

#include <stdbool.h>

#include <node_api.h>

bool addon_nftables_register (napi_env env, napi_value exports);

#endif
