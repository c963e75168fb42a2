/* Error strings, generated from YZ_ERRNO_MAP in yz/common.h. */
#include "yz/common.h"

#include <sodium.h>

const char *yz_strerror(int err)
{
  switch (err) {
  case YZ_OK:
    return "success";
#define YZ__X(name, text)                                                     \
  case YZ_E_##name:                                                           \
    return text;
    YZ_ERRNO_MAP(YZ__X)
#undef YZ__X
  default:
    return "unknown error";
  }
}

const char *yz_err_name(int err)
{
  switch (err) {
  case YZ_OK:
    return "YZ_OK";
#define YZ__X(name, text)                                                     \
  case YZ_E_##name:                                                           \
    return "YZ_E_" #name;
    YZ_ERRNO_MAP(YZ__X)
#undef YZ__X
  default:
    return "YZ_E_UNKNOWN";
  }
}

#ifndef YZ_VERSION_STRING
#define YZ_VERSION_STRING "0.0.0"
#endif

const char *yz_version(void) { return YZ_VERSION_STRING; }

int yz_init(void)
{
  /* sodium_init() returns 0 on first success, 1 if already done, -1 on
   * failure (no entropy source). */
  return sodium_init() < 0 ? YZ_E_IO : 0;
}
