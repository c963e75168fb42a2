/* yz/record.h must compile on its own (included first, nothing before). */
#include "yz/record.h"
#include "yz/record.h" /* and twice: include guard */

int yz_header_check_record(void);
int yz_header_check_record(void) { return 0; }
