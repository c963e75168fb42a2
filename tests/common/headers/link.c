/* yz/link.h must compile on its own (included first, nothing before). */
#include "yz/link.h"
#include "yz/link.h" /* and twice: include guard */

int yz_header_check_link(void);
int yz_header_check_link(void) { return 0; }
