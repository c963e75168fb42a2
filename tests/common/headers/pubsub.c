/* yz/pubsub.h must compile on its own (included first, nothing before). */
#include "yz/pubsub.h"
#include "yz/pubsub.h" /* and twice: include guard */

int yz_header_check_pubsub(void);
int yz_header_check_pubsub(void) { return 0; }
