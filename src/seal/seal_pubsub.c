/*
 * Encrypted topics on PubSub (yz/seal.h, yz/pubsub.h): the payload sealed
 * under the keyring's newest epoch and published with that epoch; a
 * received message opened with the keyring. Relays need neither.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "yz/seal.h"

int yz_seal_topic_publish(yz_pubsub *ps, const yz_seal_keyring *kr,
                          const char *topic_name, const uint8_t *pt,
                          size_t pt_len, uint32_t ttl_ms, size_t *reached,
                          uint8_t id_out[YZ_PS_ID_LEN],
                          yz_pubsub_publish_cb cb, void *arg)
{
  uint8_t topic[YZ_PS_TOPIC_LEN];
  if (ps == NULL || kr == NULL || topic_name == NULL ||
      yz_ps_topic_hash(topic, topic_name, strlen(topic_name)) != 0 ||
      memcmp(topic, kr->topic, sizeof topic) != 0)
    return YZ_E_INVAL;
  size_t cap = pt_len + YZ_SEAL_MSG_OVERHEAD, len = 0;
  uint8_t *p = malloc(cap);
  if (p == NULL)
    return YZ_E_NOMEM;
  uint64_t epoch = 0;
  int err = yz_seal_topic_seal(kr, yz_pubsub_author(ps), pt, pt_len, p, cap,
                               &len, &epoch);
  if (err == 0)
    err = yz_pubsub_publish_epoch(ps, topic_name, epoch, p, len, ttl_ms,
                                  reached, id_out, cb, arg);
  free(p);
  return err;
}

int yz_seal_topic_open_message(const yz_seal_keyring *kr,
                               const yz_pubsub_message *m, uint64_t now_ms,
                               uint8_t *out, size_t cap, size_t *outlen)
{
  if (kr == NULL || m == NULL || m->topic_hash == NULL || m->author == NULL)
    return YZ_E_INVAL;
  if (m->epoch == 0)
    return YZ_E_SEAL_NOT_SEALED;
  if (memcmp(m->topic_hash, kr->topic, YZ_PS_TOPIC_LEN) != 0)
    return YZ_E_INVAL;
  return yz_seal_topic_open(kr, m->author, m->epoch, m->data, m->len, now_ms,
                            out, cap, outlen);
}
