/*
 * yz ping: dial a node address, run the yz handshake, and send pings over
 * the encrypted link (node protocol 1, answered by every node with the same
 * body: docs/protocol.md, "Node messages").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli.h"
#include "yz/common.h"
#include "yz/identity.h"
#include "yz/node.h"
#include "yz/wire.h"

enum {
  EXIT_LOST = 1,       /* linked, but a ping went unanswered or the link fell */
  EXIT_MISMATCH = 3,   /* the peer is not the node the address names */
  EXIT_HANDSHAKE = 4,  /* connected, but the handshake failed */
  EXIT_UNREACHABLE = 5 /* no connection (refused, no route, no upgrade) */
};

static void usage(FILE *f)
{
  fprintf(f,
"Usage: yz ping ADDR [--count N] [--timeout S] [--interval MS] [--unpinned]\n"
"               [--tls-ca FILE] [--tls-allow-selfsigned] [--network NAME]\n"
"\n"
"Dials ADDR (ws[s]://HOST:PORT/#NODEID, as yz-node prints it), runs the yz\n"
"handshake with a throwaway identity, checks that the peer IS that node ID,\n"
"and sends N pings over the encrypted link. Prints the peer's node ID, the\n"
"time to bring the link up (TCP, WebSocket upgrade, Noise XX handshake)\n"
"and each round trip.\n"
"\n"
"Options:\n"
"  --count N       pings to send (default 3)\n"
"  --timeout S     seconds allowed for the handshake and for each reply\n"
"                  (default 5)\n"
"  --interval MS   pause between pings (default 200)\n"
"  --unpinned      ADDR has no #NODEID: accept whatever node answers\n"
"                  (no protection against a man in the middle)\n"
"  --tls-ca FILE   CA (PEM) to verify a wss:// server with\n"
"  --tls-allow-selfsigned  accept a self-signed wss:// certificate (the\n"
"                  node ID is still verified by the handshake)\n"
"  --network NAME  the network of the node pinged (default yz, the public\n"
"                  one); a node of another network refuses the handshake\n"
"\n"
"Exit status:\n"
"  0  every ping was answered\n"
"  1  the link came up but a ping went unanswered or the link went down\n"
"  2  bad command line\n"
"  3  peer node ID mismatch: the node at that URL is not the one the\n"
"     address names (a man in the middle or a wrong address)\n"
"  4  handshake failed (connected, but no valid yz session: TLS, protocol\n"
"     version, bad identity proof, another network, timeout)\n"
"  5  unreachable (connection refused, no route, no WebSocket upgrade)\n");
}

struct ping {
  uv_loop_t loop;
  uv_timer_t timer;
  yz_node *node;
  const char *addr;
  unsigned long long count, sent, received;
  uint32_t timeout_ms, interval_ms;
  uint64_t t_dial, t_sent;
  double rtt_min, rtt_max, rtt_sum;
  yz_node_id peer;
  bool up, stopping;
  int exit_code;
};

static void finish(struct ping *p, int code)
{
  if (p->stopping)
    return;
  p->stopping = true;
  p->exit_code = code;
  uv_close((uv_handle_t *)&p->timer, NULL);
  yz_node_stop(p->node, NULL, NULL);
}

static void send_ping(struct ping *p);
static void on_timer(uv_timer_t *t);

static void on_reply(yz_node *node, int status, const yz_node_response *r,
                     void *arg)
{
  (void)node;
  struct ping *p = arg;
  if (p->stopping)
    return;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&p->peer, hex);
  if (status != 0) {
    printf("no reply to seq=%llu: %s\n", p->sent, yz_strerror(status));
    finish(p, EXIT_LOST);
    return;
  }
  double ms = (double)(uv_hrtime() - p->t_sent) / 1e6;
  uint64_t seq = 0;
  for (size_t i = 0; i < r->len && i < 8; i++)
    seq = (seq << 8) | r->data[i];
  if (r->len != 8 || seq != p->sent) {
    printf("bad reply to seq=%llu\n", p->sent);
    finish(p, EXIT_LOST);
    return;
  }
  p->received++;
  p->rtt_sum += ms;
  if (p->received == 1 || ms < p->rtt_min)
    p->rtt_min = ms;
  if (ms > p->rtt_max)
    p->rtt_max = ms;
  printf("reply from %.16s: seq=%llu time=%.3f ms\n", hex,
         (unsigned long long)seq, ms);
  if (p->sent == p->count) {
    printf("--- %llu pings, %llu replies, 0 lost; round trip "
           "min/avg/max = %.3f/%.3f/%.3f ms\n",
           p->sent, p->received, p->rtt_min,
           p->rtt_sum / (double)p->received, p->rtt_max);
    finish(p, 0);
    return;
  }
  uv_timer_start(&p->timer, on_timer, p->interval_ms, 0);
}

static void send_ping(struct ping *p)
{
  uint8_t body[8];
  uint64_t seq = ++p->sent;
  for (int i = 0; i < 8; i++)
    body[7 - i] = (uint8_t)(seq >> (8 * i));
  p->t_sent = uv_hrtime();
  int err = yz_node_request(p->node, &p->peer, YZ_NODE_PROTO_PING, body,
                            sizeof body, p->timeout_ms, on_reply, p, NULL);
  if (err != 0) {
    printf("cannot send ping seq=%llu: %s\n", p->sent, yz_strerror(err));
    finish(p, EXIT_LOST);
  }
}

static void on_timer(uv_timer_t *t) { send_ping(t->data); }

static void on_peer_up(yz_node *node, const yz_link_peer *lp, void *ud)
{
  (void)node;
  struct ping *p = ud;
  if (p->stopping || p->up)
    return;
  p->up = true;
  p->peer = lp->id;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&lp->id, hex);
  printf("peer node ID %s\n", hex);
  printf("link up in %.3f ms (%s, %s; TCP, WebSocket upgrade and Noise XX "
         "handshake)\n",
         (double)(uv_hrtime() - p->t_dial) / 1e6, lp->remote_addr,
         lp->tls ? "wss" : "ws");
  if (p->count == 0) {
    finish(p, 0);
    return;
  }
  p->timer.data = p;
  uv_timer_start(&p->timer, on_timer, 0, 0);
}

static void on_peer_down(yz_node *node, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)node;
  (void)peer;
  struct ping *p = ud;
  if (p->stopping)
    return;
  printf("link down: %s [%s]\n", reason, yz_err_name(err));
  finish(p, EXIT_LOST);
}

static void on_dial_failed(yz_node *node, const char *url,
                           const yz_node_id *expected, int err,
                           const char *reason, void *ud)
{
  (void)node;
  (void)url;
  struct ping *p = ud;
  if (p->stopping)
    return;
  int code;
  if (err == YZ_E_PEER_ID_MISMATCH) {
    char hex[YZ_NODE_ID_HEX_LEN + 1] = "?";
    if (expected)
      yz_node_id_to_hex(expected, hex);
    fprintf(stderr, "%s: REFUSED: %s [%s]\n", yz_cli_prog, reason,
            yz_err_name(err));
    if (strstr(reason, "man in the middle") == NULL)
      fprintf(stderr, "%s: the node at that URL is not %s: a man in the "
                      "middle or a wrong address is possible\n",
              yz_cli_prog, hex);
    code = EXIT_MISMATCH;
  } else if (err == YZ_E_UNREACHABLE) {
    fprintf(stderr, "%s: %s unreachable: %s [%s]\n", yz_cli_prog, p->addr,
            reason, yz_err_name(err));
    code = EXIT_UNREACHABLE;
  } else {
    fprintf(stderr, "%s: handshake with %s failed: %s [%s]\n", yz_cli_prog,
            p->addr, reason, yz_err_name(err));
    code = EXIT_HANDSHAKE;
  }
  finish(p, code);
}

int cmd_ping_main(int argc, char **argv)
{
  const char *addr = NULL, *ca = NULL, *network = NULL;
  unsigned long long count = 3, timeout_s = 5, interval = 200;
  bool unpinned = false, selfsigned = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    } else if (strcmp(a, "--unpinned") == 0) {
      unpinned = true;
    } else if (strcmp(a, "--tls-allow-selfsigned") == 0) {
      selfsigned = true;
    } else if (strcmp(a, "--count") == 0) {
      if (!yz_cli_parse_u64(v, 0, 1000000, &count))
        return yz_cli_usage_error("--count: want a number from 0 to 1000000");
      i++;
    } else if (strcmp(a, "--timeout") == 0) {
      if (!yz_cli_parse_u64(v, 1, 3600, &timeout_s))
        return yz_cli_usage_error("--timeout: want seconds from 1 to 3600");
      i++;
    } else if (strcmp(a, "--interval") == 0) {
      if (!yz_cli_parse_u64(v, 0, 3600000, &interval))
        return yz_cli_usage_error("--interval: want milliseconds");
      i++;
    } else if (strcmp(a, "--network") == 0) {
      if (v == NULL || !yz_wire_network_valid(v, strlen(v)))
        return yz_cli_usage_error("--network: want 1..32 bytes of a-z 0-9 "
                                  ". - _");
      network = v;
      i++;
    } else if (strcmp(a, "--tls-ca") == 0) {
      if (v == NULL)
        return yz_cli_usage_error("--tls-ca needs a file");
      ca = v;
      i++;
    } else if (a[0] == '-') {
      return yz_cli_usage_error("unknown option '%s'", a);
    } else if (addr == NULL) {
      addr = a;
    } else {
      return yz_cli_usage_error("unexpected argument '%s'", a);
    }
  }
  if (addr == NULL)
    return yz_cli_usage_error("missing the node address to ping");
  if (strncmp(addr, "ws://", 5) != 0 && strncmp(addr, "wss://", 6) != 0)
    return yz_cli_usage_error("%s: want ws://HOST:PORT/#NODEID", addr);
  bool has_id = strchr(addr, '#') != NULL;
  if (!has_id && !unpinned)
    return yz_cli_usage_error(
        "%s has no #NODEID: without it anyone could answer; add the node ID "
        "(yz-node prints its addresses at start) or pass --unpinned",
        addr);
  if (has_id && unpinned)
    return yz_cli_usage_error("--unpinned with an address that has a "
                              "#NODEID; drop one of them");

  struct ping p;
  memset(&p, 0, sizeof p);
  p.addr = addr;
  p.count = count;
  p.timeout_ms = (uint32_t)(timeout_s * 1000);
  p.interval_ms = (uint32_t)interval;

  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return yz_cli_error("cannot generate an identity");
  if (uv_loop_init(&p.loop) != 0) {
    yz_identity_clear(&id);
    return yz_cli_error("cannot create the event loop");
  }
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  cfg.user_data = &p;
  cfg.cb.on_peer_up = on_peer_up;
  cfg.cb.on_peer_down = on_peer_down;
  cfg.cb.on_dial_failed = on_dial_failed;
  cfg.link.handshake_timeout_ms = p.timeout_ms;
  cfg.link.tls_ca_file = ca;
  cfg.link.network = network;
  cfg.request_timeout_ms = p.timeout_ms;
  int err = yz_node_new(&p.node, &p.loop, &cfg);
  yz_identity_clear(&id);
  if (err != 0) {
    uv_loop_close(&p.loop);
    return yz_cli_error("cannot create a node: %s", yz_strerror(err));
  }
  uv_timer_init(&p.loop, &p.timer);
  p.timer.data = &p;

  yz_node_dial_opts opts = {.unpinned = unpinned};
  if (selfsigned)
    opts.tls_flags = YZ_LINK_TLS_ALLOW_SELFSIGNED |
                     YZ_LINK_TLS_SKIP_HOSTNAME_CHECK;
  printf("PING %s\n", addr);
  p.t_dial = uv_hrtime();
  err = yz_node_dial(p.node, addr, &opts);
  if (err != 0) {
    fprintf(stderr, "%s: cannot dial %s: %s\n", yz_cli_prog, addr,
            yz_strerror(err));
    finish(&p, err == YZ_E_ADDRESS || err == YZ_E_INVAL ? YZ_EXIT_USAGE
                                                        : EXIT_UNREACHABLE);
  }
  uv_run(&p.loop, UV_RUN_DEFAULT);
  yz_node_free(p.node);
  if (uv_loop_close(&p.loop) != 0 && p.exit_code == 0)
    return yz_cli_error("event loop not empty at exit");
  return p.exit_code;
}
