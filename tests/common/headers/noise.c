/* yz/noise.h must compile on its own (included first, nothing before). */
#include "yz/noise.h"
#include "yz/noise.h" /* and twice: include guard */

int yz_header_check_noise(void);
int yz_header_check_noise(void) { return 0; }
