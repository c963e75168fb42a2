/* yz/address.h must compile on its own (included first, nothing before). */
#include "yz/address.h"
#include "yz/address.h" /* and twice: include guard */

int yz_header_check_address(void);
int yz_header_check_address(void) { return 0; }
