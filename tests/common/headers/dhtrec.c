/* yz/dhtrec.h must compile on its own (included first, nothing before). */
#include "yz/dhtrec.h"
#include "yz/dhtrec.h" /* and twice: include guard */

int yz_header_check_dhtrec(void);
int yz_header_check_dhtrec(void) { return 0; }
