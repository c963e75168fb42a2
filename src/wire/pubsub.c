/*
 * PubSub wire format (docs/protocol.md "PubSub", proto/pubsub.cddl): topic
 * hashes, the signed bytes of a message and its ID, signing and the
 * receiver's checks, and the RPC codec.
 *
 * As in src/wire/dht.c, one rule set (rpc_invalid()) serves the encoder and
 * the decoder; the writer emits shortest heads with keys in increasing
 * order, and the decoder walks input that yz_wire_check() has already
 * bounded (every length inside the input, canonical heads, keys strictly
 * increasing), pointing into it instead of copying.
 */
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "wire/cbor_read.h"
#include "wire/cbor_write.h"
#include "yz/pubsub_wire.h"
#include "yz/wire.h"

_Static_assert(sizeof YZ_PS_TOPIC_PREFIX == YZ_PS_TOPIC_PREFIX_LEN,
               "the prefix and its NUL are the domain prefix");
_Static_assert(sizeof YZ_PS_MSG_PREFIX == YZ_PS_MSG_PREFIX_LEN,
               "the prefix and its NUL are the domain prefix");
_Static_assert(YZ_PS_SIGNED_LEN == 141, "docs/protocol.md: 141 bytes");
_Static_assert(YZ_PS_TOPIC_LEN == crypto_hash_sha256_BYTES, "topic size");
_Static_assert(YZ_PS_ID_LEN == crypto_hash_sha256_BYTES, "ID size");
_Static_assert(YZ_PS_MAX_TOPICS <= YZ_PS_TOPICS_CAP &&
                   YZ_PS_MAX_IDS <= YZ_PS_IDS_CAP &&
                   YZ_PS_MAX_MSGS <= YZ_PS_MSGS_CAP &&
                   YZ_PS_MAX_PX <= YZ_PS_PX_CAP &&
                   YZ_PS_MAX_DATA <= YZ_PS_DATA_CAP &&
                   YZ_PS_MAX_RPC <= YZ_PS_RPC_CAP,
               "defaults under their caps");
_Static_assert(YZ_PS_RKEY_MAX < 24, "every key is a one-byte CBOR head");

static int fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

/* ---- topics, signed bytes, IDs, signatures ------------------------------ */

int yz_ps_topic_hash(uint8_t out[YZ_PS_TOPIC_LEN], const char *name,
                     size_t len)
{
  if (!out || !name || len == 0 || len > YZ_PS_NAME_MAX_LEN ||
      !yz_wire_utf8_valid((const uint8_t *)name, len))
    return YZ_E_INVAL;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)YZ_PS_TOPIC_PREFIX,
                            YZ_PS_TOPIC_PREFIX_LEN); /* with its 0x00 */
  crypto_hash_sha256_update(&st, (const uint8_t *)name, len);
  crypto_hash_sha256_final(&st, out);
  return 0;
}

int yz_ps_msg_signed_bytes(const yz_ps_msg *m, uint8_t out[YZ_PS_SIGNED_LEN])
{
  if (!m || !out || (!m->data && m->data_len))
    return YZ_E_INVAL;
  /* Every field has a fixed width, so the concatenation is unambiguous;
   * the data enters as its hash (docs/protocol.md "PubSub", "Signed
   * bytes"). */
  size_t o = 0;
  memcpy(out, YZ_PS_MSG_PREFIX, YZ_PS_MSG_PREFIX_LEN);
  o += YZ_PS_MSG_PREFIX_LEN;
  memcpy(out + o, m->topic, YZ_PS_TOPIC_LEN);
  o += YZ_PS_TOPIC_LEN;
  memcpy(out + o, m->author, YZ_IDENTITY_PK_LEN);
  o += YZ_IDENTITY_PK_LEN;
  yz__store64_be(out + o, m->seq);
  o += 8;
  yz__store64_be(out + o, m->expiry);
  o += 8;
  yz__store64_be(out + o, m->epoch);
  o += 8;
  crypto_hash_sha256(out + o, m->data_len ? m->data : (const uint8_t *)"",
                     m->data_len);
  return 0;
}

int yz_ps_msg_id(const yz_ps_msg *m, uint8_t id[YZ_PS_ID_LEN])
{
  uint8_t sb[YZ_PS_SIGNED_LEN];
  if (!id || yz_ps_msg_signed_bytes(m, sb) != 0)
    return YZ_E_INVAL;
  crypto_hash_sha256(id, sb, sizeof sb);
  return 0;
}

static const char *msg_unsignable(const yz_ps_msg *m)
{
  if (!m->data && m->data_len)
    return "data is NULL";
  if (m->data_len > YZ_PS_DATA_CAP)
    return "data over 1 MiB";
  return NULL;
}

int yz_ps_msg_sign(yz_ps_msg *m, const yz_identity *id, const char **reason)
{
  if (!m || !id)
    return fail(reason, "no message or identity", YZ_E_INVAL);
  const char *why = msg_unsignable(m);
  if (why)
    return fail(reason, why, YZ_E_INVAL);
  memcpy(m->author, yz_identity_public_key(id), YZ_IDENTITY_PK_LEN);
  uint8_t sb[YZ_PS_SIGNED_LEN];
  if (yz_ps_msg_signed_bytes(m, sb) != 0)
    return fail(reason, "message fields invalid", YZ_E_INVAL);
  yz_identity_sign(id, sb, sizeof sb, m->signature);
  return 0;
}

int yz_ps_msg_sign_raw(yz_ps_msg *m, const uint8_t sk[YZ_IDENTITY_SK_LEN],
                       const char **reason)
{
  if (!m || !sk)
    return fail(reason, "no message or key", YZ_E_INVAL);
  const char *why = msg_unsignable(m);
  if (why)
    return fail(reason, why, YZ_E_INVAL);
  /* libsodium's secret key is seed || public key. */
  memcpy(m->author, sk + 32, YZ_IDENTITY_PK_LEN);
  uint8_t sb[YZ_PS_SIGNED_LEN];
  if (yz_ps_msg_signed_bytes(m, sb) != 0)
    return fail(reason, "message fields invalid", YZ_E_INVAL);
  crypto_sign_ed25519_detached(m->signature, NULL, sb, sizeof sb, sk);
  return 0;
}

const char *yz_ps_status_name(int status)
{
  switch (status) {
  case YZ_PS_OK:
    return "OK";
  case YZ_PS_TOO_LARGE:
    return "TOO_LARGE";
  case YZ_PS_EXPIRED:
    return "EXPIRED";
  case YZ_PS_EXPIRY_TOO_FAR:
    return "EXPIRY_TOO_FAR";
  case YZ_PS_BAD_SIGNATURE:
    return "BAD_SIGNATURE";
  default:
    return "UNKNOWN";
  }
}

static yz_ps_status st_fail(const char **reason, const char *why,
                            yz_ps_status st)
{
  if (reason)
    *reason = why;
  return st;
}

yz_ps_status yz_ps_msg_check(const yz_ps_msg *m, uint64_t now,
                             uint64_t max_lifetime, size_t max_data,
                             const char **reason)
{
  if (!max_lifetime)
    max_lifetime = YZ_PS_MAX_LIFETIME;
  if (!max_data)
    max_data = YZ_PS_MAX_DATA;
  if (!m || (!m->data && m->data_len))
    return st_fail(reason, "no message", YZ_PS_BAD_SIGNATURE);
  if (m->data_len > max_data)
    return st_fail(reason, "data over the limit", YZ_PS_TOO_LARGE);
  if (m->expiry <= now)
    return st_fail(reason, "message expired", YZ_PS_EXPIRED);
  if (m->expiry - now > max_lifetime)
    return st_fail(reason, "expiry beyond the longest lifetime",
                   YZ_PS_EXPIRY_TOO_FAR);
  uint8_t sb[YZ_PS_SIGNED_LEN];
  if (yz_ps_msg_signed_bytes(m, sb) != 0 ||
      crypto_sign_ed25519_verify_detached(m->signature, sb, sizeof sb,
                                          m->author) != 0)
    return st_fail(reason, "signature does not verify", YZ_PS_BAD_SIGNATURE);
  return YZ_PS_OK;
}

/* ---- limits ------------------------------------------------------------- */

static bool limits_of(const yz_ps_limits *lim, yz_ps_limits *out)
{
  *out = (yz_ps_limits){YZ_PS_MAX_TOPICS, YZ_PS_MAX_IDS,  YZ_PS_MAX_MSGS,
                        YZ_PS_MAX_PX,     YZ_PS_MAX_DATA, YZ_PS_MAX_RPC};
  if (!lim)
    return true;
  if (lim->max_topics > YZ_PS_TOPICS_CAP || lim->max_ids > YZ_PS_IDS_CAP ||
      lim->max_messages > YZ_PS_MSGS_CAP || lim->max_px > YZ_PS_PX_CAP ||
      lim->max_data > YZ_PS_DATA_CAP || lim->max_rpc_len > YZ_PS_RPC_CAP)
    return false;
#define TAKE(f)                                                               \
  if (lim->f)                                                                 \
  out->f = lim->f
  TAKE(max_topics);
  TAKE(max_ids);
  TAKE(max_messages);
  TAKE(max_px);
  TAKE(max_data);
  TAKE(max_rpc_len);
#undef TAKE
  return true;
}

/* ---- the rules (docs/protocol.md "PubSub", "Rules") --------------------- */

/* A list of 32-byte items: 1..max, strictly increasing (a set with one
 * encoding; a repeat is a neighbour equal to the one before). */
static const char *set_invalid(const yz_ps_list *l, size_t max, int *err,
                               const char *what)
{
  if (l->n > max) {
    *err = YZ_E_LIMIT;
    return what;
  }
  if (!l->ptr) {
    *err = YZ_E_MALFORMED;
    return "a list has no items";
  }
  for (size_t i = 1; i < l->n; i++) {
    int c = memcmp(yz_ps_list_at(l, i - 1), yz_ps_list_at(l, i), 32);
    if (c == 0) {
      *err = YZ_E_DUPLICATE;
      return "the same topic or ID twice in one list";
    }
    if (c > 0) {
      *err = YZ_E_MALFORMED;
      return "topics or IDs not in increasing bytewise order";
    }
  }
  return NULL;
}

/* A peer record: 1..1024 bytes of one canonical CBOR map (the receiver
 * checks it as a node record: docs/protocol.md "Node records"). */
static const char *peer_invalid(const yz_ps_bytes *p, int *err)
{
  *err = YZ_E_MALFORMED;
  if (!p->ptr || p->len == 0)
    return "peer record is an empty byte string";
  if (p->len > YZ_PS_PEER_RECORD_MAX_LEN) {
    *err = YZ_E_TOO_LARGE;
    return "peer record is longer than a node record may be (1024 bytes)";
  }
  if ((p->ptr[0] >> 5) != 5 ||
      yz_wire_check(p->ptr, p->len, YZ_PS_PEER_RECORD_MAX_LEN, NULL) != 0)
    return "peer record is not one canonical CBOR map (a node record)";
  return NULL;
}

static bool same_msg(const yz_ps_msg *a, const yz_ps_msg *b)
{
  return a->seq == b->seq &&
         memcmp(a->topic, b->topic, YZ_PS_TOPIC_LEN) == 0 &&
         memcmp(a->author, b->author, YZ_IDENTITY_PK_LEN) == 0;
}

/* Every rule on an RPC in memory: NULL, or why not and *err. */
static const char *rpc_invalid(const yz_ps_rpc *r, const yz_ps_limits *l,
                               int *err)
{
  const char *why;
  *err = YZ_E_MALFORMED;
  if (!r->subscribe.n && !r->unsubscribe.n && !r->n_publish && !r->graft.n &&
      !r->n_prune && !r->n_ihave && !r->iwant.n && !r->idontwant.n)
    return "an empty RPC";
  if ((r->subscribe.n &&
       (why = set_invalid(&r->subscribe, l->max_topics, err,
                          "more subscriptions than the limit"))) ||
      (r->unsubscribe.n &&
       (why = set_invalid(&r->unsubscribe, l->max_topics, err,
                          "more unsubscriptions than the limit"))) ||
      (r->graft.n && (why = set_invalid(&r->graft, l->max_topics, err,
                                        "more GRAFTs than the limit"))) ||
      (r->iwant.n && (why = set_invalid(&r->iwant, l->max_ids, err,
                                        "more IWANT IDs than the limit"))) ||
      (r->idontwant.n &&
       (why = set_invalid(&r->idontwant, l->max_ids, err,
                          "more IDONTWANT IDs than the limit"))))
    return why;
  /* Both lists are sorted: a merge finds a topic in both. */
  for (size_t i = 0, j = 0; i < r->subscribe.n && j < r->unsubscribe.n;) {
    int c = memcmp(yz_ps_list_at(&r->subscribe, i),
                   yz_ps_list_at(&r->unsubscribe, j), 32);
    if (c == 0) {
      *err = YZ_E_DUPLICATE;
      return "a topic both subscribed and unsubscribed";
    }
    if (c < 0)
      i++;
    else
      j++;
  }
  if (r->n_publish > l->max_messages) {
    *err = YZ_E_LIMIT;
    return "more messages than the limit";
  }
  for (size_t i = 0; i < r->n_publish; i++) {
    const yz_ps_msg *m = &r->publish[i];
    *err = YZ_E_MALFORMED;
    if (!m->data && m->data_len)
      return "message data is NULL";
    if (m->data_len > l->max_data) {
      *err = YZ_E_TOO_LARGE;
      return "message data over the limit";
    }
    /* n <= 256: quadratic is cheap. */
    for (size_t j = 0; j < i; j++) {
      if (same_msg(&r->publish[j], m)) {
        *err = YZ_E_DUPLICATE;
        return "the same message (topic, author, seq) twice";
      }
    }
  }
  if (r->n_prune > l->max_topics) {
    *err = YZ_E_LIMIT;
    return "more PRUNEs than the limit";
  }
  size_t px_total = 0;
  for (size_t i = 0; i < r->n_prune; i++) {
    const yz_ps_prune *p = &r->prune[i];
    *err = YZ_E_MALFORMED;
    if (!p->topic)
      return "PRUNE without a topic";
    int c = i ? memcmp(r->prune[i - 1].topic, p->topic, 32) : -1;
    if (c == 0) {
      *err = YZ_E_DUPLICATE;
      return "two PRUNEs for the same topic";
    }
    if (c > 0)
      return "PRUNEs not in increasing topic order";
    if (p->n_peers > l->max_px ||
        (px_total += p->n_peers) > YZ_PS_PX_TOTAL_CAP) {
      *err = YZ_E_LIMIT;
      return "more peer records than the limit";
    }
    if (p->n_peers && !p->peers)
      return "PRUNE peers are NULL";
    for (size_t k = 0; k < p->n_peers; k++) {
      if ((why = peer_invalid(&p->peers[k], err)))
        return why;
      for (size_t j = 0; j < k; j++) {
        if (p->peers[j].len == p->peers[k].len &&
            memcmp(p->peers[j].ptr, p->peers[k].ptr, p->peers[k].len) == 0) {
          *err = YZ_E_DUPLICATE;
          return "the same peer record twice in one PRUNE";
        }
      }
    }
  }
  if (r->n_ihave > l->max_topics) {
    *err = YZ_E_LIMIT;
    return "more IHAVEs than the limit";
  }
  size_t ids = 0;
  for (size_t i = 0; i < r->n_ihave; i++) {
    const yz_ps_ihave *h = &r->ihave[i];
    *err = YZ_E_MALFORMED;
    if (!h->topic)
      return "IHAVE without a topic";
    int c = i ? memcmp(r->ihave[i - 1].topic, h->topic, 32) : -1;
    if (c == 0) {
      *err = YZ_E_DUPLICATE;
      return "two IHAVEs for the same topic";
    }
    if (c > 0)
      return "IHAVEs not in increasing topic order";
    if (h->ids.n == 0)
      return "IHAVE without IDs";
    if ((ids += h->ids.n) > l->max_ids) {
      *err = YZ_E_LIMIT;
      return "more IHAVE IDs than the limit";
    }
    if ((why = set_invalid(&h->ids, l->max_ids, err,
                           "more IHAVE IDs than the limit")))
      return why;
  }
  return NULL;
}

/* ---- encoding ------------------------------------------------------------
 */

/* A writer (wire/cbor_write.h); p NULL counts only. */

static void put_set(struct wbuf *w, const yz_ps_list *l)
{
  put_head(w, 4, l->n);
  for (size_t i = 0; i < l->n; i++)
    put_bstr(w, yz_ps_list_at(l, i), 32);
}

static void put_msg(struct wbuf *w, const yz_ps_msg *m)
{
  put_head(w, 5, m->epoch ? 7 : 6);
  put_head(w, 0, YZ_PS_MKEY_TOPIC), put_bstr(w, m->topic, YZ_PS_TOPIC_LEN);
  put_head(w, 0, YZ_PS_MKEY_AUTHOR);
  put_bstr(w, m->author, YZ_IDENTITY_PK_LEN);
  put_head(w, 0, YZ_PS_MKEY_SEQ), put_head(w, 0, m->seq);
  put_head(w, 0, YZ_PS_MKEY_EXPIRY), put_head(w, 0, m->expiry);
  if (m->epoch)
    put_head(w, 0, YZ_PS_MKEY_EPOCH), put_head(w, 0, m->epoch);
  put_head(w, 0, YZ_PS_MKEY_DATA), put_bstr(w, m->data, m->data_len);
  put_head(w, 0, YZ_PS_MKEY_SIGNATURE);
  put_bstr(w, m->signature, YZ_IDENTITY_SIG_LEN);
}

int yz_ps_rpc_encode(const yz_ps_rpc *r, const yz_ps_limits *lim, uint8_t *out,
                     size_t cap, size_t *outlen, const char **reason)
{
  yz_ps_limits l;
  if (!r || !outlen || (!out && cap))
    return fail(reason, "no RPC or buffer", YZ_E_INVAL);
  if (!limits_of(lim, &l))
    return fail(reason, "a limit is over its cap", YZ_E_INVAL);
  int err;
  const char *why = rpc_invalid(r, &l, &err);
  if (why)
    return fail(reason, why, YZ_E_INVAL);

  struct wbuf w = {out, cap, 0, false};
  bool has[YZ_PS_RKEY_MAX + 1] = {false,
                                  r->subscribe.n != 0,
                                  r->unsubscribe.n != 0,
                                  r->n_publish != 0,
                                  r->graft.n != 0,
                                  r->n_prune != 0,
                                  r->n_ihave != 0,
                                  r->iwant.n != 0,
                                  r->idontwant.n != 0};
  unsigned pairs = 0;
  for (unsigned k = 1; k <= YZ_PS_RKEY_MAX; k++)
    pairs += has[k];
  put_head(&w, 5, pairs);
  for (unsigned k = 1; k <= YZ_PS_RKEY_MAX; k++) {
    if (!has[k])
      continue;
    put_head(&w, 0, k);
    switch (k) {
    case YZ_PS_RKEY_SUBSCRIBE:
      put_set(&w, &r->subscribe);
      break;
    case YZ_PS_RKEY_UNSUBSCRIBE:
      put_set(&w, &r->unsubscribe);
      break;
    case YZ_PS_RKEY_PUBLISH:
      put_head(&w, 4, r->n_publish);
      for (size_t i = 0; i < r->n_publish; i++)
        put_msg(&w, &r->publish[i]);
      break;
    case YZ_PS_RKEY_GRAFT:
      put_set(&w, &r->graft);
      break;
    case YZ_PS_RKEY_PRUNE:
      put_head(&w, 4, r->n_prune);
      for (size_t i = 0; i < r->n_prune; i++) {
        const yz_ps_prune *p = &r->prune[i];
        put_head(&w, 5, p->n_peers ? 3 : 2);
        put_head(&w, 0, YZ_PS_PKEY_TOPIC), put_bstr(&w, p->topic, 32);
        put_head(&w, 0, YZ_PS_PKEY_BACKOFF), put_head(&w, 0, p->backoff);
        if (p->n_peers) {
          put_head(&w, 0, YZ_PS_PKEY_PEERS), put_head(&w, 4, p->n_peers);
          for (size_t j = 0; j < p->n_peers; j++)
            put_bstr(&w, p->peers[j].ptr, p->peers[j].len);
        }
      }
      break;
    case YZ_PS_RKEY_IHAVE:
      put_head(&w, 4, r->n_ihave);
      for (size_t i = 0; i < r->n_ihave; i++) {
        put_head(&w, 5, 2);
        put_head(&w, 0, YZ_PS_IKEY_TOPIC), put_bstr(&w, r->ihave[i].topic, 32);
        put_head(&w, 0, YZ_PS_IKEY_IDS), put_set(&w, &r->ihave[i].ids);
      }
      break;
    case YZ_PS_RKEY_IWANT:
      put_set(&w, &r->iwant);
      break;
    default: /* YZ_PS_RKEY_IDONTWANT */
      put_set(&w, &r->idontwant);
      break;
    }
  }
  *outlen = w.n;
  if (w.n > l.max_rpc_len)
    return fail(reason, "RPC longer than the limit", YZ_E_INVAL);
  if (w.over)
    return fail(reason, "output buffer too small", YZ_E_TOO_LARGE);
  return 0;
}

/* ---- decoding ------------------------------------------------------------
 */

/* Heads are read with get_head() (wire/cbor_read.h). */

static bool get_uint(struct rbuf *r, uint64_t *v)
{
  unsigned mj;
  return get_head(r, &mj, v) && mj == 0;
}

static bool get_bstr(struct rbuf *r, yz_ps_bytes *b)
{
  unsigned mj;
  uint64_t n;
  if (!get_head(r, &mj, &n) || mj != 2 || n > r->len - r->off)
    return false;
  b->ptr = r->p + r->off;
  b->len = (size_t)n;
  r->off += (size_t)n;
  return true;
}

/* A bstr of exactly 32 bytes. */
static bool get_b32(struct rbuf *r, const uint8_t **p)
{
  yz_ps_bytes b;
  if (!get_bstr(r, &b) || b.len != 32)
    return false;
  *p = b.ptr;
  return true;
}

/* An array head of 1..max items (LIMIT checked before anything is read). */
static int get_array(struct rbuf *r, size_t max, size_t *n, const char *what,
                     const char *over, const char **reason)
{
  unsigned mj;
  uint64_t cnt;
  if (!get_head(r, &mj, &cnt) || mj != 4)
    return fail(reason, what, YZ_E_MALFORMED);
  if (cnt == 0)
    return fail(reason, "an empty list (absent instead)", YZ_E_MALFORMED);
  if (cnt > max)
    return fail(reason, over, YZ_E_LIMIT);
  *n = (size_t)cnt;
  return 0;
}

/* A list of 32-byte bstrs: consecutive 34-byte items inside the input. */
static int get_set(struct rbuf *r, yz_ps_list *l, size_t max, const char *what,
                   const char *over, const char **reason)
{
  size_t n;
  int rc = get_array(r, max, &n, what, over, reason);
  if (rc)
    return rc;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p;
    if (!get_b32(r, &p))
      return fail(reason, "a topic or ID is not a 32-byte string",
                  YZ_E_MALFORMED);
    if (i == 0)
      l->ptr = p;
  }
  l->n = n;
  l->stride = 34; /* 0x58 0x20 and 32 bytes */
  return 0;
}

/* The keys of a nested map, in increasing order (yz_wire_check() saw
 * them strictly increasing): which of 1..max are present. */
static int get_msg(struct rbuf *r, yz_ps_msg *m, const char **reason)
{
  unsigned mj;
  uint64_t pairs, key, prev = 0;
  if (!get_head(r, &mj, &pairs) || mj != 5)
    return fail(reason, "a message is not a map", YZ_E_MALFORMED);
  unsigned seen = 0;
  for (uint64_t i = 0; i < pairs; i++) {
    if (!get_uint(r, &key) || key == 0 || key > YZ_PS_MKEY_SIGNATURE ||
        key <= prev)
      return fail(reason, "unknown message key", YZ_E_MALFORMED);
    prev = key;
    seen |= 1u << key;
    yz_ps_bytes b = {NULL, 0};
    const uint8_t *p;
    bool ok;
    switch (key) {
    case YZ_PS_MKEY_TOPIC:
      if ((ok = get_b32(r, &p)))
        memcpy(m->topic, p, 32);
      break;
    case YZ_PS_MKEY_AUTHOR:
      if ((ok = get_b32(r, &p)))
        memcpy(m->author, p, 32);
      break;
    case YZ_PS_MKEY_SEQ:
      ok = get_uint(r, &m->seq);
      break;
    case YZ_PS_MKEY_EXPIRY:
      ok = get_uint(r, &m->expiry);
      break;
    case YZ_PS_MKEY_EPOCH:
      ok = get_uint(r, &m->epoch);
      if (ok && m->epoch == 0)
        return fail(reason, "message epoch 0 present (absent instead)",
                    YZ_E_MALFORMED);
      break;
    case YZ_PS_MKEY_DATA:
      ok = get_bstr(r, &b);
      m->data = b.ptr, m->data_len = b.len;
      break;
    default: /* YZ_PS_MKEY_SIGNATURE */
      ok = get_bstr(r, &b) && b.len == YZ_IDENTITY_SIG_LEN;
      if (ok)
        memcpy(m->signature, b.ptr, YZ_IDENTITY_SIG_LEN);
      break;
    }
    if (!ok)
      return fail(reason, "a message field has the wrong type or size",
                  YZ_E_MALFORMED);
  }
  unsigned need = 0xdeu; /* keys 1, 2, 3, 4, 6, 7 */
  if ((seen & need) != need)
    return fail(reason, "a message field is missing", YZ_E_MALFORMED);
  return 0;
}

static int get_prune(struct rbuf *r, yz_ps_rpc *rpc, yz_ps_prune *p,
                     size_t *px_used, const yz_ps_limits *l,
                     const char **reason)
{
  unsigned mj;
  uint64_t pairs, key, prev = 0;
  if (!get_head(r, &mj, &pairs) || mj != 5)
    return fail(reason, "a PRUNE is not a map", YZ_E_MALFORMED);
  unsigned seen = 0;
  for (uint64_t i = 0; i < pairs; i++) {
    if (!get_uint(r, &key) || key == 0 || key > YZ_PS_PKEY_PEERS ||
        key <= prev)
      return fail(reason, "unknown PRUNE key", YZ_E_MALFORMED);
    prev = key;
    seen |= 1u << key;
    if (key == YZ_PS_PKEY_TOPIC) {
      if (!get_b32(r, &p->topic))
        return fail(reason, "PRUNE topic is not a 32-byte string",
                    YZ_E_MALFORMED);
    } else if (key == YZ_PS_PKEY_BACKOFF) {
      if (!get_uint(r, &p->backoff))
        return fail(reason, "PRUNE backoff is not an unsigned integer",
                    YZ_E_MALFORMED);
    } else {
      size_t n;
      int rc = get_array(r, l->max_px, &n, "PRUNE peers is not an array",
                         "more peer records than the limit", reason);
      if (rc)
        return rc;
      if (n > YZ_PS_PX_TOTAL_CAP - *px_used)
        return fail(reason, "more peer records than the limit", YZ_E_LIMIT);
      p->peers = &rpc->px[*px_used];
      for (size_t j = 0; j < n; j++) {
        if (!get_bstr(r, &rpc->px[*px_used + j]))
          return fail(reason, "a peer record is not a byte string",
                      YZ_E_MALFORMED);
      }
      p->n_peers = n;
      *px_used += n;
    }
  }
  if ((seen & 0x6u) != 0x6u)
    return fail(reason, "PRUNE topic or backoff missing", YZ_E_MALFORMED);
  return 0;
}

static int get_ihave(struct rbuf *r, yz_ps_ihave *h, size_t ids_left,
                     const char **reason)
{
  unsigned mj;
  uint64_t pairs, key;
  if (!get_head(r, &mj, &pairs) || mj != 5 || pairs != 2)
    return fail(reason, "an IHAVE is not a map of topic and IDs",
                YZ_E_MALFORMED);
  if (!get_uint(r, &key) || key != YZ_PS_IKEY_TOPIC || !get_b32(r, &h->topic))
    return fail(reason, "IHAVE topic is not a 32-byte string", YZ_E_MALFORMED);
  if (!get_uint(r, &key) || key != YZ_PS_IKEY_IDS)
    return fail(reason, "unknown IHAVE key", YZ_E_MALFORMED);
  return get_set(r, &h->ids, ids_left, "IHAVE IDs is not an array",
                 "more IHAVE IDs than the limit", reason);
}

static int decode_body(yz_ps_rpc *rpc, struct rbuf *r, const yz_ps_limits *l,
                       const char **reason)
{
  unsigned mj;
  uint64_t pairs, key;
  size_t n, px_used = 0, ids = 0;
  int rc = 0;
  if (!get_head(r, &mj, &pairs) || mj != 5)
    return fail(reason, "RPC is not a CBOR map", YZ_E_MALFORMED);
  for (uint64_t i = 0; i < pairs && rc == 0; i++) {
    if (!get_head(r, &mj, &key) || mj != 0)
      return fail(reason, "map key is not an unsigned integer",
                  YZ_E_MALFORMED);
    if (key == 0 || key > YZ_PS_RKEY_MAX)
      return fail(reason, "unknown RPC key", YZ_E_MALFORMED);
    switch (key) {
    case YZ_PS_RKEY_SUBSCRIBE:
      rc = get_set(r, &rpc->subscribe, l->max_topics,
                   "subscribe (1) is not an array",
                   "more subscriptions than the limit", reason);
      break;
    case YZ_PS_RKEY_UNSUBSCRIBE:
      rc = get_set(r, &rpc->unsubscribe, l->max_topics,
                   "unsubscribe (2) is not an array",
                   "more unsubscriptions than the limit", reason);
      break;
    case YZ_PS_RKEY_PUBLISH:
      rc = get_array(r, l->max_messages, &n, "publish (3) is not an array",
                     "more messages than the limit", reason);
      for (size_t j = 0; j < n && rc == 0; j++)
        rc = get_msg(r, &rpc->publish[j], reason);
      if (rc == 0)
        rpc->n_publish = n;
      break;
    case YZ_PS_RKEY_GRAFT:
      rc = get_set(r, &rpc->graft, l->max_topics, "graft (4) is not an array",
                   "more GRAFTs than the limit", reason);
      break;
    case YZ_PS_RKEY_PRUNE:
      rc = get_array(r, l->max_topics, &n, "prune (5) is not an array",
                     "more PRUNEs than the limit", reason);
      for (size_t j = 0; j < n && rc == 0; j++)
        rc = get_prune(r, rpc, &rpc->prune[j], &px_used, l, reason);
      if (rc == 0)
        rpc->n_prune = n;
      break;
    case YZ_PS_RKEY_IHAVE:
      rc = get_array(r, l->max_topics, &n, "ihave (6) is not an array",
                     "more IHAVEs than the limit", reason);
      for (size_t j = 0; j < n && rc == 0; j++) {
        rc = get_ihave(r, &rpc->ihave[j], l->max_ids - ids, reason);
        if (rc == 0 && (ids += rpc->ihave[j].ids.n) >= l->max_ids && j + 1 < n)
          rc = fail(reason, "more IHAVE IDs than the limit", YZ_E_LIMIT);
      }
      if (rc == 0)
        rpc->n_ihave = n;
      break;
    case YZ_PS_RKEY_IWANT:
      rc = get_set(r, &rpc->iwant, l->max_ids, "iwant (7) is not an array",
                   "more IWANT IDs than the limit", reason);
      break;
    default: /* YZ_PS_RKEY_IDONTWANT */
      rc = get_set(r, &rpc->idontwant, l->max_ids,
                   "idontwant (8) is not an array",
                   "more IDONTWANT IDs than the limit", reason);
      break;
    }
  }
  if (rc)
    return rc;
  if (r->off != r->len) /* cannot happen after yz_wire_check() */
    return fail(reason, "trailing bytes after the CBOR item", YZ_E_TRAILING);
  return 0;
}

void yz_ps_rpc_init(yz_ps_rpc *r)
{
  memset(r, 0, sizeof *r);
}

int yz_ps_rpc_decode(yz_ps_rpc *rpc, const uint8_t *in, size_t len,
                     const yz_ps_limits *lim, const char **reason)
{
  if (!rpc)
    return fail(reason, "no RPC", YZ_E_INVAL);
  yz_ps_rpc_init(rpc);
  yz_ps_limits l;
  if (!limits_of(lim, &l))
    return fail(reason, "a limit is over its cap", YZ_E_INVAL);
  /* Bounded, canonical, one item, no repeated key, before anything is
   * read (docs/protocol.md "PubSub", "Rules"). */
  int rc = yz_wire_check(in, len, l.max_rpc_len, reason);
  if (rc)
    goto out;
  struct rbuf r = {in, len, 0};
  rc = decode_body(rpc, &r, &l, reason);
  if (rc)
    goto out;
  int err;
  const char *why = rpc_invalid(rpc, &l, &err);
  if (why)
    rc = fail(reason, why, err);
out:
  if (rc)
    yz_ps_rpc_init(rpc);
  return rc;
}
