/*
 * Fuzz target: the native backend's RFC 6455 receiver (src/link/wsframe.c)
 * fed as the socket would feed it: the first byte says which side receives
 * (server: frames must be masked) and how the bytes are cut into reads; the
 * rest is the byte stream. The harness keeps the incomplete tail as
 * native.c does, with at most the bytes the receiver asks for. Invariants:
 * documented codes only, a reason and a Close status with every error, no
 * event after a Close, no message above 65535 bytes, no frame asked for
 * above the header cap plus 65535, and the consumed count within the input.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "link/wsframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  bool from_client = (mode & 1) != 0;
  size_t step = (size_t)(mode >> 1) + 1; /* bytes per read: 1..128 */
  yz__ws_rx rx;
  yz__ws_rx_init(&rx, from_client);
  uint8_t *buf = malloc(size + 1);
  if (buf == NULL)
    return 0;
  size_t have = 0, fed = 0;
  bool closed = false;
  while (fed < size || have > 0) {
    size_t add = size - fed < step ? size - fed : step;
    memcpy(buf + have, data + fed, add);
    have += add;
    fed += add;
    size_t off = 0;
    for (;;) {
      yz__ws_ev ev;
      bool got = false;
      size_t need = 0;
      const char *why = NULL;
      uint16_t st = 0;
      int k = yz__ws_rx_next(&rx, buf + off, have - off, &ev, &got, &need,
                             &why, &st);
      if (k < 0) {
        FUZZ_CHECK(k == YZ_E_MALFORMED || k == YZ_E_TOO_LARGE ||
                   k == YZ_E_NOMEM || k == YZ_E_STATE);
        FUZZ_CHECK(why != NULL && st >= 1000);
        FUZZ_CHECK(k != YZ_E_STATE || closed);
        goto out;
      }
      if (k == 0) {
        FUZZ_CHECK(need > have - off || have == off);
        FUZZ_CHECK(need <= YZ__WS_MAX_HEADER + YZ__WS_MAX_MESSAGE);
        break;
      }
      FUZZ_CHECK((size_t)k <= have - off);
      off += (size_t)k;
      if (got) {
        FUZZ_CHECK(!closed);
        FUZZ_CHECK(ev.len <= YZ__WS_MAX_MESSAGE);
        if (ev.type == YZ__WS_EV_CLOSE) {
          closed = true;
          FUZZ_CHECK(ev.status == YZ__WS_CLOSE_NO_STATUS ||
                     yz__ws_close_status_valid(ev.status));
        }
        if (ev.type == YZ__WS_EV_PING || ev.type == YZ__WS_EV_PONG)
          FUZZ_CHECK(ev.len <= YZ__WS_MAX_CONTROL);
      }
      if (off == have)
        break;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
    if (fed == size && off == 0)
      break; /* the rest is an incomplete frame */
  }
out:
  yz__ws_rx_clear(&rx);
  free(buf);
  return 0;
}
