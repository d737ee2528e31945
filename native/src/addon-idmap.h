/* The addon's idmapped bind mount (addon-idmap.c). */
#ifndef NSBOX_ADDON_IDMAP_H
#define NSBOX_ADDON_IDMAP_H

#include <stdbool.h>

#include <node_api.h>

bool addon_idmap_register (napi_env env, napi_value exports);

#endif
