/* The addon's syscall names (addon-seccomp.c). */
#ifndef NSBOX_ADDON_SECCOMP_H
#define NSBOX_ADDON_SECCOMP_H

#include <stdbool.h>

#include <node_api.h>

bool addon_seccomp_register (napi_env env, napi_value exports);

#endif
