/* The addon's glue for nftables.c: converts JS values to C and back, no logic.
 *
 *   nft(netns, commands, json) → output: runs the batch in `netns` (a path; "" for the
 *     caller's own) in one transaction. Throws an Error with code ENFT and nft's message when
 *     nft refused the batch (nothing of it applied), or with the errno name as code when it
 *     could not run (the namespace cannot be entered). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "addon-glue.h"
#include "addon-nftables.h"
#include "nftables.h"

static napi_value
throw_coded (napi_env env, const char *code_text, const char *message_text, int errnum)
{
  napi_value error, code, message, value;

  NAPI_OK (napi_create_string_utf8 (env, code_text, NAPI_AUTO_LENGTH, &code));
  NAPI_OK (napi_create_string_utf8 (env, message_text, NAPI_AUTO_LENGTH, &message));
  NAPI_OK (napi_create_error (env, code, message, &error));
  if (errnum)
    {
      NAPI_OK (napi_create_int32 (env, -errnum, &value));
      NAPI_OK (napi_set_named_property (env, error, "errno", value));
    }
  napi_throw (env, error);
  return NULL;
}

/* The whole string argument, malloc'ed (a batch has no fixed size); NULL after a throw. */
static char *
arg_text (napi_env env, napi_value value, const char *name)
{
  size_t length;
  char *text, message[96];

  if (napi_get_value_string_utf8 (env, value, NULL, 0, &length) != napi_ok)
    {
      snprintf (message, sizeof message, "%s must be a string", name);
      throw_type_error (env, message);
      return NULL;
    }
  text = malloc (length + 1);
  if (!text)
    {
      throw_coded (env, "ENOMEM", "out of memory", ENOMEM);
      return NULL;
    }
  if (napi_get_value_string_utf8 (env, value, text, length + 1, &length) != napi_ok
      || strlen (text) != length)
    {
      free (text);
      snprintf (message, sizeof message, "%s must be a string without NUL", name);
      throw_type_error (env, message);
      return NULL;
    }
  return text;
}

static napi_value
js_nft (napi_env env, napi_callback_info info)
{
  napi_value argv[3], out = NULL;
  char netns[PATH_MAX];
  bool json;
  char *commands;
  struct nft_result result;
  struct nl_error err = { 0 };

  if (!get_args (env, info, 3, argv) || !arg_path (env, argv[0], "netns", netns, sizeof netns))
    return NULL;
  if (napi_get_value_bool (env, argv[2], &json) != napi_ok)
    return throw_type_error (env, "json must be a boolean");
  commands = arg_text (env, argv[1], "commands");
  if (!commands)
    return NULL;
  if (nft_run (netns, commands, json, &result, &err) < 0)
    {
      const char *name = strerrorname_np (err.errnum);
      char message[384];
      free (commands);
      snprintf (message, sizeof message, "nft: %s: %s", err.what, strerror (err.errnum));
      return throw_coded (env, name ? name : "EUNKNOWN", message, err.errnum);
    }
  free (commands);
  if (result.error)
    throw_coded (env, "ENFT", result.error, 0);
  else if (napi_create_string_utf8 (env, result.output, NAPI_AUTO_LENGTH, &out) != napi_ok)
    out = NULL;
  nft_result_free (&result);
  return out;
}

bool
addon_nftables_register (napi_env env, napi_value exports)
{
  napi_property_descriptor props[] = {
    { "nft", NULL, js_nft, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  return napi_define_properties (env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
