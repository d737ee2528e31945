/* The addon's shared glue (addon-glue.c): argument readers and result builders. */

#ifndef NSBOX_ADDON_GLUE_H
#define NSBOX_ADDON_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* Returns NULL (a pending exception, or napi's own failure) from a napi_value function. */
#define NAPI_OK(call)                                                                      \
  do                                                                                       \
    {                                                                                      \
      if ((call) != napi_ok)                                                               \
        return NULL;                                                                       \
    }                                                                                      \
  while (0)

/* Throws a TypeError (code ERR_INVALID_ARG_TYPE) and returns NULL. */
napi_value throw_type_error (napi_env env, const char *message);
/* Reads argc arguments; a missing one is `undefined`, which the converters reject. */
bool get_args (napi_env env, napi_callback_info info, size_t argc, napi_value *argv);
/* A string without NUL that fits buf (with room to spare); false otherwise, nothing thrown. */
bool read_string (napi_env env, napi_value value, char *buf, size_t size);
/* The arg_* readers throw a TypeError naming the argument when it does not fit. */
bool arg_int32 (napi_env env, napi_value value, const char *name, int32_t *out);
bool arg_string (napi_env env, napi_value value, const char *name, char *buf, size_t size);
bool arg_path (napi_env env, napi_value value, const char *name, char *buf, size_t size);
napi_value undefined (napi_env env);
bool set_number (napi_env env, napi_value object, const char *name, double value);

#endif
