/* yz/log.h must compile on its own (included first, nothing before). */
#include "yz/log.h"
#include "yz/log.h" /* and twice: include guard */

int yz_header_check_log(void);
int yz_header_check_log(void) { return 0; }
