/* yz/node.h must compile on its own (included first, nothing before). */
#include "yz/node.h"
#include "yz/node.h" /* and twice: include guard */

int yz_header_check_node(void);
int yz_header_check_node(void) { return 0; }
