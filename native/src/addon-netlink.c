/* The addon's glue for netlink.c and root-write.c: converts JS values to C and back, no
 * logic. Registered by addon.c's module init through addon_netlink_register.
 *
 *   netlink(netns, ops) → results: runs the ops in order on one netlink socket opened in
 *     `netns` (a path; "" for the caller's own); each op is [name, ...string args]. Stops at
 *     the first failure and throws an Error with code (errno name), errno, and step (the
 *     op's index). A `link-list` op's result is an array of links; the others' undefined.
 *   writeFileInRoot(root, path, content, mode), readFileInRoot(root, path, maxBytes). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "addon-glue.h"
#include "addon-netlink.h"
#include "netlink.h"
#include "root-write.h"

#define MAX_ARGS 6
#define ARG_SIZE 240

static napi_value
throw_nl_error (napi_env env, const struct nl_error *err, int step)
{
  const char *name = strerrorname_np (err->errnum);
  char message[512];
  napi_value error, code, msg, value;

  snprintf (message, sizeof message, "%s: %s", err->what, strerror (err->errnum));
  NAPI_OK (napi_create_string_utf8 (env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
  NAPI_OK (napi_create_string_utf8 (env, message, NAPI_AUTO_LENGTH, &msg));
  NAPI_OK (napi_create_error (env, code, msg, &error));
  NAPI_OK (napi_create_int32 (env, -err->errnum, &value));
  NAPI_OK (napi_set_named_property (env, error, "errno", value));
  if (step >= 0)
    {
      NAPI_OK (napi_create_int32 (env, step, &value));
      NAPI_OK (napi_set_named_property (env, error, "step", value));
    }
  napi_throw (env, error);
  return NULL;
}

static bool
get_int (const char *text, int *out)
{
  char *end;
  long value = strtol (text, &end, 10);

  if (!text[0] || *end || value < -1 || value > 1 << 20)
    return false;
  *out = (int) value;
  return true;
}

static napi_value
links_to_array (napi_env env, const struct nl_link *links, size_t count)
{
  napi_value array, object, value;

  NAPI_OK (napi_create_array_with_length (env, count, &array));
  for (size_t i = 0; i < count; i++)
    {
      const struct nl_link *l = &links[i];
      NAPI_OK (napi_create_object (env, &object));
      NAPI_OK (napi_create_string_utf8 (env, l->name, NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_named_property (env, object, "name", value));
      NAPI_OK (napi_create_string_utf8 (env, l->kind, NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_named_property (env, object, "kind", value));
      NAPI_OK (napi_create_string_utf8 (env, l->address, NAPI_AUTO_LENGTH, &value));
      NAPI_OK (napi_set_named_property (env, object, "address", value));
      NAPI_OK (napi_get_boolean (env, l->up, &value));
      NAPI_OK (napi_set_named_property (env, object, "up", value));
      if (!set_number (env, object, "index", l->index) || !set_number (env, object, "master", l->master)
          || !set_number (env, object, "rxBytes", (double) l->rx_bytes)
          || !set_number (env, object, "txBytes", (double) l->tx_bytes)
          || !set_number (env, object, "rxPackets", (double) l->rx_packets)
          || !set_number (env, object, "txPackets", (double) l->tx_packets)
          || !set_number (env, object, "rxDropped", (double) l->rx_dropped)
          || !set_number (env, object, "txDropped", (double) l->tx_dropped))
        return NULL;
      NAPI_OK (napi_set_element (env, array, (uint32_t) i, object));
    }
  return array;
}

/* Runs one op; *result is set for ops that return something. */
static int
run_op (napi_env env, struct nl_conn *c, char args[][ARG_SIZE], uint32_t argc, napi_value *result,
        struct nl_error *err)
{
  const char *op = args[0];
  int n;

#define NEED(count)                                                                        \
  if (argc != (count) + 1)                                                                 \
    return err->errnum = EINVAL,                                                           \
           snprintf (err->what, sizeof err->what, "netlink op '%.32s' takes %d arguments", op, \
                     (count)),                                                             \
           -1
  if (strcmp (op, "bridge-add") == 0)
    {
      NEED (2);
      return nl_link_add_bridge (c, args[1], args[2], err);
    }
  if (strcmp (op, "veth-add") == 0)
    {
      NEED (6);
      return nl_link_add_veth (c, args[1], args[2], args[3], args[4], args[5], args[6][0] == '1', err);
    }
  if (strcmp (op, "link-netns") == 0)
    {
      NEED (2);
      return nl_link_set_netns (c, args[1], args[2], err);
    }
  if (strcmp (op, "link-up") == 0 || strcmp (op, "link-down") == 0)
    {
      NEED (1);
      return nl_link_set_up (c, args[1], op[5] == 'u', err);
    }
  if (strcmp (op, "link-master") == 0)
    {
      NEED (2);
      return nl_link_set_master (c, args[1], args[2], err);
    }
  if (strcmp (op, "link-rename") == 0)
    {
      NEED (2);
      return nl_link_rename (c, args[1], args[2], err);
    }
  if (strcmp (op, "link-del") == 0)
    {
      NEED (1);
      return nl_link_del (c, args[1], err);
    }
  if (strcmp (op, "link-list") == 0)
    {
      struct nl_link *links;
      size_t count;
      NEED (0);
      if (nl_link_list (c, &links, &count, err) < 0)
        return -1;
      *result = links_to_array (env, links, count);
      free (links);
      return *result ? 0 : (err->errnum = ENOMEM, -1);
    }
  if (strcmp (op, "addr-add") == 0)
    {
      NEED (3);
      if (!get_int (args[3], &n))
        return err->errnum = EINVAL, snprintf (err->what, sizeof err->what, "bad prefix '%s'", args[3]), -1;
      return nl_addr_add (c, args[1], args[2], n, err);
    }
  if (strcmp (op, "route-add") == 0 || strcmp (op, "route-del") == 0)
    {
      NEED (5);
      if (!get_int (args[2], &n))
        return err->errnum = EINVAL, snprintf (err->what, sizeof err->what, "bad prefix '%s'", args[2]), -1;
      return op[6] == 'a' ? nl_route_add (c, args[1], n, args[3], args[4], args[5][0] == '1', err)
                          : nl_route_del (c, args[1], n, args[3], args[4], err);
    }
  if (strcmp (op, "ifb-add") == 0)
    {
      NEED (1);
      return nl_link_add_ifb (c, args[1], err);
    }
  if (strcmp (op, "qdisc-tbf") == 0)
    {
      unsigned long long rate, burst, limit;
      char *end1, *end2, *end3;
      NEED (4);
      rate = strtoull (args[2], &end1, 10);
      burst = strtoull (args[3], &end2, 10);
      limit = strtoull (args[4], &end3, 10);
      if (*end1 || *end2 || *end3 || !args[2][0] || !args[3][0] || !args[4][0] || burst > UINT32_MAX
          || limit > UINT32_MAX)
        return err->errnum = EINVAL,
               snprintf (err->what, sizeof err->what, "qdisc-tbf: bad rate, burst or limit"), -1;
      return nl_qdisc_tbf (c, args[1], rate, (uint32_t) burst, (uint32_t) limit, err);
    }
  if (strcmp (op, "qdisc-ingress") == 0)
    {
      NEED (1);
      return nl_qdisc_ingress (c, args[1], err);
    }
  if (strcmp (op, "qdisc-del") == 0)
    {
      NEED (2);
      return nl_qdisc_del (c, args[1], strcmp (args[2], "ingress") == 0, err);
    }
  if (strcmp (op, "filter-redirect") == 0)
    {
      NEED (2);
      return nl_filter_redirect (c, args[1], args[2], err);
    }
  if (strcmp (op, "sysctl") == 0)
    return err->errnum = EINVAL,
           snprintf (err->what, sizeof err->what, "sysctl is its own call (netlinkSysctl)"), -1;
#undef NEED
  err->errnum = EINVAL;
  snprintf (err->what, sizeof err->what, "unknown netlink op '%.32s'", op);
  return -1;
}

/* netlink(netns: string, ops: string[][]) → unknown[] */
static napi_value
js_netlink (napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2], results, op_value, arg_value, result;
  char netns[ARG_SIZE];
  char args[MAX_ARGS + 1][ARG_SIZE];
  uint32_t count, op_argc;
  struct nl_conn *conn;
  struct nl_error err = { 0 };
  bool is_array;

  NAPI_OK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !read_string (env, argv[0], netns, sizeof netns))
    return throw_type_error (env, "netlink(netns, ops): netns must be a string");
  if (napi_is_array (env, argv[1], &is_array) != napi_ok || !is_array)
    return throw_type_error (env, "netlink(netns, ops): ops must be an array");
  NAPI_OK (napi_get_array_length (env, argv[1], &count));
  NAPI_OK (napi_create_array_with_length (env, count, &results));
  if (nl_open (netns, &conn, &err) < 0)
    return throw_nl_error (env, &err, -1);
  for (uint32_t i = 0; i < count; i++)
    {
      if (napi_get_element (env, argv[1], i, &op_value) != napi_ok
          || napi_is_array (env, op_value, &is_array) != napi_ok || !is_array
          || napi_get_array_length (env, op_value, &op_argc) != napi_ok || op_argc == 0
          || op_argc > MAX_ARGS + 1)
        {
          nl_close (conn);
          return throw_type_error (env, "netlink: each op is [name, ...args] with at most 6 args");
        }
      for (uint32_t a = 0; a < op_argc; a++)
        if (napi_get_element (env, op_value, a, &arg_value) != napi_ok
            || !read_string (env, arg_value, args[a], ARG_SIZE))
          {
            nl_close (conn);
            return throw_type_error (env, "netlink: op arguments must be strings without NUL");
          }
      result = NULL;
      if (run_op (env, conn, args, op_argc, &result, &err) < 0)
        {
          nl_close (conn);
          return throw_nl_error (env, &err, (int) i);
        }
      if (result)
        NAPI_OK (napi_set_element (env, results, i, result));
    }
  nl_close (conn);
  return results;
}

/* netlinkSysctl(netns, key, value) */
static napi_value
js_netlink_sysctl (napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value argv[3];
  char netns[ARG_SIZE], key[256], value[256];
  struct nl_error err = { 0 };

  NAPI_OK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !read_string (env, argv[0], netns, sizeof netns)
      || !read_string (env, argv[1], key, sizeof key) || !read_string (env, argv[2], value, sizeof value))
    return throw_type_error (env, "netlinkSysctl(netns, key, value): three strings");
  if (nl_sysctl_set (netns, key, value, &err) < 0)
    return throw_nl_error (env, &err, -1);
  return undefined (env);
}

/* writeFileInRoot(root, path, content: string | Buffer, mode) */
static napi_value
js_write_file_in_root (napi_env env, napi_callback_info info)
{
  size_t argc = 4;
  napi_value argv[4];
  char root[4096], path[4096];
  struct nl_error err = { 0 };
  bool is_buffer;
  void *data = NULL;
  char *text = NULL;
  size_t len = 0;
  int32_t mode;
  int ret;

  NAPI_OK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || !read_string (env, argv[0], root, sizeof root)
      || !read_string (env, argv[1], path, sizeof path)
      || napi_get_value_int32 (env, argv[3], &mode) != napi_ok || mode < 0 || mode > 07777)
    return throw_type_error (env, "writeFileInRoot(root, path, content, mode)");
  NAPI_OK (napi_is_buffer (env, argv[2], &is_buffer));
  if (is_buffer)
    NAPI_OK (napi_get_buffer_info (env, argv[2], &data, &len));
  else
    {
      if (napi_get_value_string_utf8 (env, argv[2], NULL, 0, &len) != napi_ok)
        return throw_type_error (env, "writeFileInRoot: content must be a string or a Buffer");
      text = malloc (len + 1);
      if (!text)
        return throw_type_error (env, "writeFileInRoot: out of memory");
      napi_get_value_string_utf8 (env, argv[2], text, len + 1, &len);
      data = text;
    }
  ret = root_write_file (root, path, data, len, (mode_t) mode, &err);
  free (text);
  if (ret < 0)
    return throw_nl_error (env, &err, -1);
  return undefined (env);
}

/* readFileInRoot(root, path, maxBytes) → Buffer, or null when the file is missing */
static napi_value
js_read_file_in_root (napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value argv[3], result;
  char root[4096], path[4096];
  struct nl_error err = { 0 };
  int32_t max;
  void *copy;
  char *buf;
  ssize_t len;

  NAPI_OK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !read_string (env, argv[0], root, sizeof root)
      || !read_string (env, argv[1], path, sizeof path)
      || napi_get_value_int32 (env, argv[2], &max) != napi_ok || max < 0 || max > (1 << 24))
    return throw_type_error (env, "readFileInRoot(root, path, maxBytes)");
  buf = malloc ((size_t) max + 1);
  if (!buf)
    return throw_type_error (env, "readFileInRoot: out of memory");
  len = root_read_file (root, path, buf, (size_t) max, &err);
  if (len < 0)
    {
      free (buf);
      if (err.errnum == ENOENT)
        {
          NAPI_OK (napi_get_null (env, &result));
          return result;
        }
      return throw_nl_error (env, &err, -1);
    }
  if (napi_create_buffer_copy (env, (size_t) len, buf, &copy, &result) != napi_ok)
    {
      free (buf);
      return throw_type_error (env, "readFileInRoot: out of memory");
    }
  free (buf);
  return result;
}

bool
addon_netlink_register (napi_env env, napi_value exports)
{
  static const napi_property_descriptor functions[] = {
    { "netlink", NULL, js_netlink, NULL, NULL, NULL, napi_enumerable, NULL },
    { "netlinkSysctl", NULL, js_netlink_sysctl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writeFileInRoot", NULL, js_write_file_in_root, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readFileInRoot", NULL, js_read_file_in_root, NULL, NULL, NULL, napi_enumerable, NULL },
  };

  return napi_define_properties (env, exports, sizeof functions / sizeof functions[0], functions)
         == napi_ok;
}
