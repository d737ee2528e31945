/* syscallName(auditArch, nr): a syscall's name from its number on an architecture, as the
 * kernel's audit records give them (`arch=c000003e syscall=250`): libseccomp's table, whose
 * architecture tokens are the AUDIT_ARCH_* values. The tracking plugin names the syscalls a
 * box's filter denied with it. */
#include "addon-seccomp.h"

#include "addon-glue.h"

#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>

/* AUDIT_ARCH_* values have their top bit set (0xc000003e): read as an unsigned 32-bit integer. */
static bool
arg_arch (napi_env env, napi_value value, uint32_t *out)
{
  napi_valuetype type;
  double d;

  if (napi_typeof (env, value, &type) == napi_ok && type == napi_number
      && napi_get_value_double (env, value, &d) == napi_ok && d >= 0 && d <= UINT32_MAX
      && d == (double) (uint32_t) d)
    {
      *out = (uint32_t) d;
      return true;
    }
  throw_type_error (env, "The \"auditArch\" argument must be an unsigned 32-bit integer");
  return false;
}

napi_value
js_syscall_name (napi_env env, napi_callback_info info)
{
  napi_value argv[2], result;
  uint32_t arch;
  int32_t nr;
  char *name;

  if (!get_args (env, info, 2, argv) || !arg_arch (env, argv[0], &arch)
      || !arg_int32 (env, argv[1], "nr", &nr))
    return NULL;
  /* An architecture libseccomp does not know, or a number it has no name for: undefined. */
  if (arch == 0 || nr < 0)
    return undefined (env);
  name = seccomp_syscall_resolve_num_arch (arch, nr);
  if (name == NULL)
    return undefined (env);
  if (napi_create_string_utf8 (env, name, NAPI_AUTO_LENGTH, &result) != napi_ok)
    result = NULL;
  free (name);
  return result;
}
