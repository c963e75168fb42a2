/* yz/pubsub_wire.h must compile on its own (included first, nothing before). */
#include "yz/pubsub_wire.h"
#include "yz/pubsub_wire.h" /* and twice: include guard */

int yz_header_check_pubsub_wire(void);
int yz_header_check_pubsub_wire(void) { return 0; }
