/* The addon's shared glue: reading JS arguments into C (a TypeError naming the argument when
 * one does not fit) and small result builders, for addon.c and addon-netlink.c alike. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addon-glue.h"

bool
read_string (napi_env env, napi_value value, char *buf, size_t size)
{
  napi_valuetype type;
  size_t len;

  return napi_typeof (env, value, &type) == napi_ok && type == napi_string
         && napi_get_value_string_utf8 (env, value, buf, size, &len) == napi_ok && len < size - 1
         && strlen (buf) == len;
}

napi_value
throw_type_error (napi_env env, const char *message)
{
  napi_throw_type_error (env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/* Reads argc arguments; a missing one is `undefined`, which the converters reject. */
bool
get_args (napi_env env, napi_callback_info info, size_t argc, napi_value *argv)
{
  size_t n = argc;

  return napi_get_cb_info (env, info, &n, argv, NULL, NULL) == napi_ok;
}

bool
arg_int32 (napi_env env, napi_value value, const char *name, int32_t *out)
{
  napi_valuetype type;
  double d;
  char message[96];

  if (napi_typeof (env, value, &type) == napi_ok && type == napi_number
      && napi_get_value_double (env, value, &d) == napi_ok && d >= INT32_MIN && d <= INT32_MAX
      && d == (double) (int32_t) d)
    {
      *out = (int32_t) d;
      return true;
    }
  snprintf (message, sizeof message, "The \"%s\" argument must be an integer", name);
  throw_type_error (env, message);
  return false;
}

bool
arg_string (napi_env env, napi_value value, const char *name, char *buf, size_t size)
{
  char message[96];

  if (read_string (env, value, buf, size))
    return true;
  snprintf (message, sizeof message,
            "The \"%s\" argument must be a string without NUL, shorter than %zu bytes", name,
            size - 1);
  throw_type_error (env, message);
  return false;
}

/* A path given as a string, or as a Buffer for names that are not UTF-8 (archive members). */
bool
arg_path (napi_env env, napi_value value, const char *name, char *buf, size_t size)
{
  bool is_buffer;
  void *data;
  size_t len;
  char message[96];

  if (napi_is_buffer (env, value, &is_buffer) != napi_ok || !is_buffer)
    return arg_string (env, value, name, buf, size);
  if (napi_get_buffer_info (env, value, &data, &len) == napi_ok && len < size
      && memchr (data, '\0', len) == NULL)
    {
      memcpy (buf, data, len);
      buf[len] = '\0';
      return true;
    }
  snprintf (message, sizeof message,
            "The \"%s\" argument must be a Buffer without NUL, shorter than %zu bytes", name, size);
  throw_type_error (env, message);
  return false;
}

napi_value
undefined (napi_env env)
{
  napi_value value;

  NAPI_OK (napi_get_undefined (env, &value));
  return value;
}

bool
set_number (napi_env env, napi_value object, const char *name, double value)
{
  napi_value v;

  return napi_create_double (env, value, &v) == napi_ok
         && napi_set_named_property (env, object, name, v) == napi_ok;
}
