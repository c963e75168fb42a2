/* yz/dht_wire.h must compile on its own (included first, nothing before). */
#include "yz/dht_wire.h"
#include "yz/dht_wire.h" /* and twice: include guard */

int yz_header_check_dht_wire(void);
int yz_header_check_dht_wire(void) { return 0; }
