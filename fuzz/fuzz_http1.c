/*
 * Fuzz target: the HTTP/1.1 heads of the native backend's WebSocket
 * upgrade (src/link/http1.c). The first byte picks the parser (request or
 * response, as the listener or the dialler sees it); the rest is one head
 * as a peer would send it, cut where yz__http1_head_len() says the head
 * ends. Invariants: results are one of the documented codes, a reason comes
 * with every error, a WebSocket request carries a 24-character key, and
 * the head length never exceeds the input or the cap.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "link/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  int hl = yz__http1_head_len(data, size);
  FUZZ_CHECK(hl == 0 || hl == YZ_E_TOO_LARGE || hl == YZ_E_MALFORMED ||
             (hl > 0 && (size_t)hl <= size && hl <= YZ__HTTP1_MAX_HEAD));
  /* the whole input as a head too: trailing bytes and incomplete heads
   * are refused, never read past */
  size_t n = (mode & 2) != 0 || hl <= 0 ? size : (size_t)hl;
  const char *why = NULL;
  if ((mode & 1) == 0) {
    yz__http1_request r;
    int rc = yz__http1_parse_request(&r, data, n, &why);
    FUZZ_CHECK(rc == 0 || rc == YZ_E_MALFORMED || rc == YZ_E_TOO_LARGE ||
               rc == YZ_E_TRAILING);
    if (rc != 0) {
      FUZZ_CHECK(why != NULL);
      return 0;
    }
    FUZZ_CHECK(r.kind == YZ__HTTP1_WEBSOCKET || r.kind == YZ__HTTP1_PLAIN ||
               r.kind == YZ__HTTP1_OTHER_UPGRADE);
    if (r.kind == YZ__HTTP1_WEBSOCKET) {
      FUZZ_CHECK(strlen(r.key) == YZ__HTTP1_KEY_LEN);
      char acc[YZ__HTTP1_ACCEPT_LEN + 1];
      FUZZ_CHECK(yz__http1_accept(r.key, acc) == 0);
      FUZZ_CHECK(strlen(acc) == YZ__HTTP1_ACCEPT_LEN);
    } else {
      FUZZ_CHECK(!r.has_subprotocol);
    }
  } else {
    unsigned status = 1;
    bool proto = true;
    int rc = yz__http1_parse_response(data, n, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                                      &status, &proto, &why);
    FUZZ_CHECK(rc == 0 || rc == YZ_E_MALFORMED || rc == YZ_E_TOO_LARGE ||
               rc == YZ_E_TRAILING || rc == YZ_E_UNREACHABLE);
    FUZZ_CHECK(status == 0 || (status >= 100 && status <= 599));
    if (rc != 0) {
      FUZZ_CHECK(why != NULL && !proto);
      FUZZ_CHECK(rc != YZ_E_UNREACHABLE || status != 101);
    } else {
      FUZZ_CHECK(status == 101);
    }
  }
  return 0;
}
