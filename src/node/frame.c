/* Node message framing (docs/protocol.md, "Node messages"). */
#include "node/frame.h"

#include "common/util.h"

size_t yz__node_frame_header_len(uint8_t kind)
{
  switch (kind) {
  case YZ__NODE_MESSAGE:
    return YZ__NODE_HDR_MESSAGE;
  case YZ__NODE_REQUEST:
  case YZ__NODE_RESPONSE:
    return YZ__NODE_HDR_REQUEST;
  case YZ__NODE_ERROR:
    return YZ__NODE_HDR_ERROR;
  default:
    return 0;
  }
}

static const char *check(const yz__node_frame *f, int *err)
{
  *err = YZ_E_MALFORMED;
  if (yz__node_frame_header_len(f->kind) == 0)
    return "unknown node message kind";
  if (f->proto == 0)
    return "protocol number 0 is reserved";
  if (f->kind == YZ__NODE_MESSAGE) {
    if (f->id != 0 || f->code != 0)
      return "a one-way message carries no id or code";
    return NULL;
  }
  if (f->id == 0)
    return "request id 0 is reserved";
  if (f->kind != YZ__NODE_ERROR) {
    if (f->code != 0)
      return "only an error carries a code";
    return NULL;
  }
  if (f->code == 0)
    return "error code 0 is reserved";
  if (f->body_len > YZ__NODE_REASON_MAX) {
    *err = YZ_E_TOO_LARGE;
    return "error reason too long";
  }
  return NULL;
}

int yz__node_frame_parse(yz__node_frame *f, const uint8_t *p, size_t n,
                         const char **reason)
{
  const char *why;
  int err;

  if (n < 1) {
    why = "empty node message";
    err = YZ_E_TRUNCATED;
    goto fail;
  }
  yz__node_frame g = {.kind = p[0]};
  size_t hl = yz__node_frame_header_len(g.kind);
  if (hl == 0) {
    why = "unknown node message kind";
    err = YZ_E_MALFORMED;
    goto fail;
  }
  if (n < hl) {
    why = "node message shorter than its header";
    err = YZ_E_TRUNCATED;
    goto fail;
  }
  g.proto = yz__load16_be(p + 1);
  if (hl >= YZ__NODE_HDR_REQUEST)
    g.id = yz__load64_be(p + 3);
  if (hl >= YZ__NODE_HDR_ERROR)
    g.code = yz__load16_be(p + 11);
  g.body = p + hl;
  g.body_len = n - hl;
  why = check(&g, &err);
  if (why != NULL)
    goto fail;
  *f = g;
  return 0;
fail:
  if (reason != NULL)
    *reason = why;
  return err;
}

int yz__node_frame_encode_header(const yz__node_frame *f,
                                 uint8_t out[YZ__NODE_HDR_MAX])
{
  int err;
  if (check(f, &err) != NULL)
    return YZ_E_INVAL;
  size_t hl = yz__node_frame_header_len(f->kind);
  out[0] = f->kind;
  yz__store16_be(out + 1, f->proto);
  if (hl >= YZ__NODE_HDR_REQUEST)
    yz__store64_be(out + 3, f->id);
  if (hl >= YZ__NODE_HDR_ERROR)
    yz__store16_be(out + 11, f->code);
  return (int)hl;
}
