/* The addon's syscall names (addon-seccomp.c). */
#ifndef NSBOX_ADDON_SECCOMP_H
#define NSBOX_ADDON_SECCOMP_H

#include <node_api.h>

/* syscallName(auditArch, nr), in addon.c's table of functions. */
napi_value js_syscall_name (napi_env env, napi_callback_info info);

#endif
