/* yz/yz.h must compile on its own (included first, nothing before). */
#include "yz/yz.h"
#include "yz/yz.h" /* and twice: include guard */

int yz_header_check_yz(void);
int yz_header_check_yz(void) { return 0; }
