/*
 * harness.h: the link tests' loop driver, event recorder, raw WebSocket
 * client and tampering TCP relay (all on one uv loop, no sleeps: the loop
 * runs until a condition holds; a 20 s wall-clock timer only guards
 * against a hang).
 */
#ifndef YZ_TEST_LINK_HARNESS_H
#define YZ_TEST_LINK_HARNESS_H

#include "yz/link.h"

#include <uv.h>

typedef struct tnode {
  yz_link_manager *m;
  yz_identity id;
  uint16_t port;
  uint16_t tls_port;
  int ups, downs, msgs, writables, closed;
  int last_err;
  char last_reason[320];
  int down_errs[8]; /* first few on_down codes in order */
  yz_link *last_up;
  yz_node_id last_peer;
  yz_link_direction last_dir;
  bool last_tls;
  bool last_had_proof;
  size_t cb_len;
  size_t msg_bytes;
  uint8_t last_msg[256];
  size_t last_msg_len;
  void (*on_up_hook)(struct tnode *n, yz_link *l);
  void (*on_msg_hook)(struct tnode *n, yz_link *l, const uint8_t *msg,
                      size_t len);
  void (*on_writable_hook)(struct tnode *n, yz_link *l);
  void (*on_down_hook)(struct tnode *n, yz_link *l, int err);
  void *hook_ud;
} tnode;

extern uv_loop_t *t_loop;
/* Run by t_loop_finish() once the managers are closed (e.g. to free a
 * memnet), then cleared. */
extern void (*t_before_drain)(void);

/* Loop setup/teardown with the hang guard. */
void t_loop_init(void);
/* Close managers (NULL-terminated list of nodes), drain, and check
 * uv_loop_close() == 0. */
void t_loop_finish(tnode **nodes);

/* Run the loop until *flag-like cond(ud) is true; fails the test on a hang. */
void t_run_until(bool (*cond)(void *ud), void *ud);
bool t_int_ge(void *ud); /* ud: struct { int *p; int v; } */
typedef struct t_ge {
  const int *p;
  int v;
} t_ge;
void t_wait_ge(const int *p, int v);
/* A clock the test sets, for yz_link_config.clock_ms: t_clock() returns
 * t_clock_now, then adds t_clock_step (0 unless a test wants time to pass
 * at every reading). */
extern uint64_t t_clock_now, t_clock_step;
uint64_t t_clock(void *ud);
/* Whether this machine can bind [::1] (IPv6 loopback). */
bool t_have_ipv6_loopback(void);

/* Default config with the node's recorder callbacks. */
void t_node_config(tnode *n, yz_link_config *cfg, uint8_t seed_byte);
void t_node_start(tnode *n, const yz_link_config *cfg);
void t_node_listen_ws(tnode *n);
void t_node_listen_wss(tnode *n);
const char *t_cert_path(void);
const char *t_key_path(void);

/* A raw client: TCP, an HTTP upgrade with the given subprotocol (NULL:
 * none; "-": send nothing at all), then optionally one binary frame. */
typedef struct raw_client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  char rbuf[4096];
  size_t rlen;
  bool upgraded;  /* got "101" */
  bool refused;   /* got another status */
  bool closed;    /* EOF or error, handle closed */
  int close_count;
  const uint8_t *send_after;
  size_t send_after_len;
  /* WebSocket frames from the server after the 101 (docs/protocol.md
   * "Close"): send_opcode is the opcode of the frame sent after the
   * upgrade (0: binary; set it after raw_connect()); ws_close_code is the
   * status code of the server's WebSocket Close frame, 0 if it sent a
   * Close without a code, -1 if none arrived (a peer then reports 1006). */
  uint8_t send_opcode;
  int ws_close_code;
  uint8_t fbuf[256];
  size_t flen;
  /* what the server sent after its 101 response (WebSocket frames), up
   * to the buffer's size */
  uint8_t ws_in[512];
  size_t ws_in_len;
} raw_client;

void raw_connect(raw_client *c, uint16_t port, const char *subprotocol,
                 const uint8_t *frame_payload, size_t frame_len);
/* The same from a local address (e.g. "127.0.0.2": another source for
 * the per-source limits); NULL: any. */
void raw_connect_from(raw_client *c, uint16_t port, const char *bind_ip,
                      const char *subprotocol, const uint8_t *frame_payload,
                      size_t frame_len);
/* Connect and send these bytes, whatever they are (len 0: nothing). What
 * the server sends lands in rbuf/rlen as far as it fits (a "101" sets
 * upgraded, another HTTP status refused). */
void raw_connect_bytes(raw_client *c, uint16_t port, const char *bind_ip,
                       const void *req, size_t len);
/* Send more bytes on an open raw connection. */
void raw_send(raw_client *c, const void *data, size_t len);
void raw_close(raw_client *c);

/* A TCP relay to a target port that can flip a bit of one client frame,
 * pause the server-to-client direction, or reset everything. */
typedef struct relay relay;
relay *relay_new(uint16_t target_port);
uint16_t relay_port(const relay *r);
void relay_tamper_c2s_frame(relay *r, int frame_index); /* -1: off */
void relay_pause_s2c(relay *r, bool paused);
void relay_reset_all(relay *r);
int relay_frames_c2s(const relay *r);
void relay_free(relay *r); /* closes its handles (async) */
/* Send client frame frame_index as a text frame (opcode 1) instead of
 * binary: an up link receiving a text message (-1: off). */
void relay_text_c2s_frame(relay *r, int frame_index);
/* Replace client frame frame_index by a binary message of 70000 zero
 * bytes, above what one Noise message can be (-1: off). */
void relay_inflate_c2s_frame(relay *r, int frame_index);

#endif
