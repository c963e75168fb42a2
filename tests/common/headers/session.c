/* yz/session.h must compile on its own (included first, nothing before). */
#include "yz/session.h"
#include "yz/session.h" /* and twice: include guard */

int yz_header_check_session(void);
int yz_header_check_session(void) { return 0; }
