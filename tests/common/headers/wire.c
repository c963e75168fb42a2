/* yz/wire.h must compile on its own (included first, nothing before). */
#include "yz/wire.h"
#include "yz/wire.h" /* and twice: include guard */

int yz_header_check_wire(void);
int yz_header_check_wire(void) { return 0; }
