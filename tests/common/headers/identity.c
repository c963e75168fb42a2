/* yz/identity.h must compile on its own (included first, nothing before). */
#include "yz/identity.h"
#include "yz/identity.h" /* and twice: include guard */

int yz_header_check_identity(void);
int yz_header_check_identity(void) { return 0; }
