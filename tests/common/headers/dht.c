/* yz/dht.h must compile on its own (included first, nothing before). */
#include "yz/dht.h"
#include "yz/dht.h" /* and twice: include guard */

int yz_header_check_dht(void);
int yz_header_check_dht(void) { return 0; }
