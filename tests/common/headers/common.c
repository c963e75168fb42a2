/* yz/common.h must compile on its own (included first, nothing before). */
#include "yz/common.h"
#include "yz/common.h" /* and twice: include guard */

int yz_header_check_common(void);
int yz_header_check_common(void) { return 0; }
