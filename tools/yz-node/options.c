/* yz-node's command line. */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yz/address.h"
#include "yz/pubsub_wire.h"
#include "yz/wire.h"

#define DEFAULT_LISTEN "ws://0.0.0.0:7700"
#define DEFAULT_KEY "yz-node.key"

void yzn_usage(FILE *f)
{
  fprintf(f,
"Usage: yz-node [options]\n"
"\n"
"Runs a yz node: listens for links, dials its configured peers (and redials\n"
"them with backoff), and answers pings. Every link is a Noise XX session\n"
"bound to both node IDs (docs/protocol.md). SIGINT or SIGTERM stops it\n"
"cleanly (exit 0).\n"
"\n"
"At start it prints, on stdout, one line per listener:\n"
"  address ws://127.0.0.1:7700/#<node ID>\n"
"the node address that --peer and 'yz ping' accept (with the real port\n"
"when listening on port 0). Logs go to stderr.\n"
"\n"
"Options:\n"
"  --listen URL          listen on ws://HOST:PORT or wss://HOST:PORT\n"
"                        (repeatable; default " DEFAULT_LISTEN ")\n"
"  --no-listen           dial only, accept no links\n"
"  --tls-cert FILE       certificate chain (PEM) for wss:// listeners\n"
"  --tls-key FILE        private key (PEM) for wss:// listeners\n"
"  --tls-ca FILE         CA (PEM) to verify wss:// peers with (default:\n"
"                        the system CA bundle)\n"
"  --tls-allow-selfsigned  accept a self-signed certificate from wss://\n"
"                        peers (the node ID is still verified by Noise)\n"
"  --key FILE            identity key file (default " DEFAULT_KEY "); created\n"
"                        with mode 0600 if missing\n"
"  --peer ADDR           a peer to keep a link to: ws[s]://HOST:PORT/#NODEID\n"
"                        (repeatable)\n"
"  --peer-unpinned URL   a peer whose node ID is not known in advance:\n"
"                        accepts ANY node at that URL (repeatable; avoid)\n"
"  --network NAME        the network to belong to (default yz, the public\n"
"                        one); nodes of different networks refuse each\n"
"                        other at the handshake\n"
"  --max-links N         links up or in handshake (default 1024)\n"
"  --max-handshakes N    handshakes in progress (default 128)\n"
"  --ip-rate N           inbound handshakes per second per IP (default 20)\n"
"  --ip-burst N          burst of that token bucket (default 40)\n"
"  --max-message-size N  largest application message, bytes (default 1 MiB)\n"
"  --handshake-timeout MS  from the TCP accept to the end of the yz\n"
"                        handshake (default 10000)\n"
"  --max-handshakes-per-source N  inbound connections not yet up from\n"
"                        one IPv4 address or IPv6 /64 (default 8)\n"
"  --max-links-per-source N  inbound links from one source (default 32)\n"
"  --evict-min-idle MS   with --max-links reached, a new inbound peer\n"
"                        evicts the link idle longest if idle this long\n"
"                        (default 60000)\n"
"  --link-cap N          close idle links of unconfigured peers beyond N\n"
"                        links up (default: off)\n"
"  --link-idle MS        ... once idle this long (default 10000)\n"
"  --ping-interval MS    keepalive ping after this idle time (default 15000)\n"
"  --missed-pongs N      close a link after N unanswered pings (default 3)\n"
"  --queue-max-bytes N   send queue bound per link, bytes (default 1 MiB)\n"
"  --queue-max-msgs N    send queue bound per link, messages (default 1024)\n"
"  --mem-budget N        bytes all links together may hold for their peers\n"
"                        (send queues, messages being reassembled); past\n"
"                        it the heaviest links are closed (default 256 MiB;\n"
"                        at least twice --max-message-size)\n"
"  --request-timeout MS  node requests (default 10000)\n"
"  --redial-max MS       longest wait between redials (default 60000)\n"
"  --cookie-load-pct N   under load (cookies asked of diallers) when other\n"
"                        handshakes reach N%% of --max-handshakes\n"
"                        (default 50; 101 turns this trigger off)\n"
"  --cookie-rate N       ... or when more than N handshakes arrive in a\n"
"                        second (default 256)\n"
"  --cookie-always       ask every dialler for a cookie\n");
  fprintf(f,
"\n"
"The DHT (docs/operations.md \"The DHT\"):\n"
"  --bootstrap ADDR      join the DHT through this node: ws[s]://HOST:PORT/#ID\n"
"                        (pinned) or ws[s]://HOST:PORT/ (any node there)\n"
"                        (repeatable; none: this node is a first node that\n"
"                        others bootstrap from). Retried with backoff until\n"
"                        one answers.\n"
"  --advertise URL       an address the node record gives out, as others\n"
"                        dial it: ws://HOST:PORT/ or wss://... (repeatable;\n"
"                        default: the listeners' addresses, except that a\n"
"                        0.0.0.0 or [::] listener is not guessed at: with\n"
"                        no usable address the node is client-only)\n"
"  --dht-client          client-only: query the DHT, never enter routing\n"
"                        tables, store nothing for others\n"
"  --data-dir DIR        keep the routing contacts and stored records here\n"
"                        across restarts (created with mode 0700; the key\n"
"                        file defaults to DIR/yz-node.key); loaded at start,\n"
"                        saved every --dht-save-interval and at stop\n"
"  --dht-save-interval S  seconds between saves (default 300)\n"
"  --dht-store-max N     bytes of records stored for others (default 64 MiB)\n"
"  --dht-records-max N   records stored (default 65536)\n"
"  --dht-value-max N     largest value accepted, bytes (default 65536,\n"
"                        at most 1048576)\n"
"  --dht-k N             bucket size and replication factor (default 20)\n"
"\n"
"PubSub (docs/operations.md \"PubSub\"):\n"
"  --subscribe TOPIC     subscribe to TOPIC (repeatable, at most 32): each\n"
"                        message received is logged with its topic, author,\n"
"                        seq, size and latency; the node provides the topic\n"
"                        in the DHT and finds its other subscribers there\n"
"\n"
"  --log-level LEVEL     error, warn, info or debug (default info)\n"
"  -h, --help            this text\n"
"  --version             the version\n"
"\n"
"Exit status: 0 after a clean shutdown, 1 if the node could not start\n"
"(key file, listen address, TLS files), 2 on a bad command line.\n");
}

struct numopt {
  const char *name;
  size_t off;
  int width; /* 32 or 64 */
  uint64_t min, max;
};

#define U32(name, field, min, max)                                            \
  {name, offsetof(yzn_options, field), 32, min, max}
#define U64(name, field, min, max)                                            \
  {name, offsetof(yzn_options, field), 64, min, max}

static const struct numopt numopts[] = {
    U32("--max-links", max_links, 1, 1000000),
    U32("--max-handshakes", max_handshakes, 1, 1000000),
    U32("--ip-rate", ip_rate, 1, 1000000),
    U32("--ip-burst", ip_burst, 1, 1000000),
    U32("--handshake-timeout", handshake_timeout_ms, 1, 3600000),
    U32("--max-handshakes-per-source", max_handshakes_per_source, 1, 1000000),
    U32("--max-links-per-source", max_links_per_source, 1, 1000000),
    U32("--evict-min-idle", evict_min_idle_ms, 1, 86400000),
    U32("--link-cap", link_cap, 1, 1000000),
    U32("--link-idle", link_idle_ms, 1, 86400000),
    U32("--ping-interval", ping_interval_ms, 1, 3600000),
    U32("--missed-pongs", missed_pongs, 1, 1000),
    U64("--max-message-size", max_message_size, 1, (uint64_t)1 << 30),
    U64("--queue-max-bytes", queue_max_bytes, 1024, (uint64_t)1 << 34),
    U32("--queue-max-msgs", queue_max_msgs, 1, 10000000),
    U32("--request-timeout", request_timeout_ms, 1, 3600000),
    U32("--redial-max", redial_max_ms, 1, 86400000),
    U64("--mem-budget", mem_budget, 2u << 20, (uint64_t)1 << 40),
    U32("--cookie-load-pct", cookie_load_pct, 1, 101),
    U32("--cookie-rate", cookie_rate, 1, 1000000000),
    U32("--dht-save-interval", dht_save_interval_s, 1, 86400),
    U64("--dht-store-max", dht_store_max, 4096, (uint64_t)1 << 40),
    U32("--dht-records-max", dht_records_max, 1, 100000000),
    U64("--dht-value-max", dht_value_max, 1, 1048576),
    U32("--dht-k", dht_k, 1, 256),
};

int yzn_options_parse(yzn_options *o, int argc, char **argv)
{
  memset(o, 0, sizeof *o);
  o->key = DEFAULT_KEY;
  o->log_level = YZ_LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      o->help = true;
      return 0;
    }
    if (strcmp(a, "--version") == 0) {
      o->version = true;
      return 0;
    }
    if (strcmp(a, "--no-listen") == 0) {
      o->no_listen = true;
      continue;
    }
    if (strcmp(a, "--cookie-always") == 0) {
      o->cookie_always = true;
      continue;
    }
    if (strcmp(a, "--tls-allow-selfsigned") == 0) {
      o->tls_allow_selfsigned = true;
      continue;
    }
    if (strcmp(a, "--dht-client") == 0) {
      o->dht_client = true;
      continue;
    }
    /* Everything else takes a value. */
    if (strncmp(a, "--", 2) != 0)
      return yz_cli_usage_error("unexpected argument '%s'", a);
    static const char *const valued[] = {
        "--listen", "--peer", "--peer-unpinned", "--tls-cert", "--tls-key",
        "--tls-ca", "--key", "--log-level", "--network",
        "--bootstrap", "--advertise", "--data-dir", "--subscribe"};
    bool known = false;
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
      known |= strcmp(a, valued[k]) == 0;
    for (size_t k = 0; k < sizeof numopts / sizeof numopts[0]; k++)
      known |= strcmp(a, numopts[k].name) == 0;
    if (!known)
      return yz_cli_usage_error("unknown option '%s'", a);
    if (v == NULL)
      return yz_cli_usage_error("%s needs a value", a);
    i++;
    if (strcmp(a, "--listen") == 0) {
      if (o->nlisten == YZN_MAX_LISTEN)
        return yz_cli_usage_error("at most %d --listen", YZN_MAX_LISTEN);
      yz_address la;
      const char *why = NULL;
      if (yz_address_parse_listen(&la, (const uint8_t *)v, strlen(v),
                                  &why) != 0)
        return yz_cli_usage_error("--listen %s: %s (want ws://HOST:PORT or "
                           "wss://HOST:PORT)", v, why);
      o->listen[o->nlisten++] = v;
    } else if (strcmp(a, "--peer") == 0 ||
               strcmp(a, "--peer-unpinned") == 0) {
      bool unpinned = a[6] == '-';
      if (o->npeers == YZN_MAX_PEERS)
        return yz_cli_usage_error("at most %d peers", YZN_MAX_PEERS);
      yz_address pa;
      const char *why = NULL;
      if (yz_address_parse(&pa, (const uint8_t *)v, strlen(v), &why) != 0)
        return yz_cli_usage_error("%s %s: %s", a, v, why);
      bool hash = pa.has_id;
      if (!unpinned && !hash)
        return yz_cli_usage_error(
            "--peer %s: the address has no #NODEID, so the peer could be "
            "anyone; add the node ID it prints at start, or use "
            "--peer-unpinned to accept any node there",
            v);
      if (unpinned && hash)
        return yz_cli_usage_error("--peer-unpinned %s: has a #NODEID; use --peer",
                           v);
      o->peer_unpinned[o->npeers] = unpinned;
      o->peers[o->npeers++] = v;
    } else if (strcmp(a, "--tls-cert") == 0) {
      o->tls_cert = v;
    } else if (strcmp(a, "--tls-key") == 0) {
      o->tls_key = v;
    } else if (strcmp(a, "--tls-ca") == 0) {
      o->tls_ca = v;
    } else if (strcmp(a, "--key") == 0) {
      o->key = v;
      o->key_given = true;
    } else if (strcmp(a, "--bootstrap") == 0) {
      if (o->nbootstrap == YZN_MAX_BOOTSTRAP)
        return yz_cli_usage_error("at most %d --bootstrap", YZN_MAX_BOOTSTRAP);
      yz_address ba;
      const char *why = NULL;
      if (yz_address_parse(&ba, (const uint8_t *)v, strlen(v), &why) != 0)
        return yz_cli_usage_error("--bootstrap %s: %s", v, why);
      o->bootstrap[o->nbootstrap++] = v;
    } else if (strcmp(a, "--advertise") == 0) {
      if (o->nadvertise == YZN_MAX_ADVERTISE)
        return yz_cli_usage_error("at most %d --advertise", YZN_MAX_ADVERTISE);
      yz_address aa;
      const char *why = NULL;
      if (yz_address_parse(&aa, (const uint8_t *)v, strlen(v), &why) != 0)
        return yz_cli_usage_error("--advertise %s: %s (want ws://HOST:PORT/)",
                                  v, why);
      if (aa.has_id)
        return yz_cli_usage_error("--advertise %s: no #NODEID here (the node "
                                  "record names the node)", v);
      o->advertise[o->nadvertise++] = v;
    } else if (strcmp(a, "--subscribe") == 0) {
      if (o->nsubscribe == YZN_MAX_SUBSCRIBE)
        return yz_cli_usage_error("at most %d --subscribe", YZN_MAX_SUBSCRIBE);
      uint8_t h[YZ_PS_TOPIC_LEN];
      if (yz_ps_topic_hash(h, v, strlen(v)) != 0)
        return yz_cli_usage_error("--subscribe %s: a topic is 1 to 255 bytes "
                                  "of UTF-8", v);
      o->subscribe[o->nsubscribe++] = v;
    } else if (strcmp(a, "--data-dir") == 0) {
      if (v[0] == '\0')
        return yz_cli_usage_error("--data-dir: empty");
      o->data_dir = v;
    } else if (strcmp(a, "--network") == 0) {
      if (!yz_wire_network_valid(v, strlen(v)))
        return yz_cli_usage_error("--network %s: want 1..32 bytes of a-z 0-9 "
                                  ". - _", v);
      o->network = v;
    } else if (strcmp(a, "--log-level") == 0) {
      if (strcmp(v, "error") == 0)
        o->log_level = YZ_LOG_ERR;
      else if (strcmp(v, "warn") == 0)
        o->log_level = YZ_LOG_WARN;
      else if (strcmp(v, "info") == 0)
        o->log_level = YZ_LOG_INFO;
      else if (strcmp(v, "debug") == 0)
        o->log_level = YZ_LOG_DEBUG;
      else
        return yz_cli_usage_error("--log-level %s: want error, warn, info or debug",
                           v);
    } else {
      size_t k;
      for (k = 0; k < sizeof numopts / sizeof numopts[0]; k++)
        if (strcmp(a, numopts[k].name) == 0)
          break;
      if (k == sizeof numopts / sizeof numopts[0])
        return yz_cli_usage_error("unknown option '%s'", a);
      unsigned long long x;
      if (!yz_cli_parse_u64(v, numopts[k].min, numopts[k].max, &x))
        return yz_cli_usage_error("%s %s: want a number from %llu to %llu", a, v,
                           (unsigned long long)numopts[k].min,
                           (unsigned long long)numopts[k].max);
      char *field = (char *)o + numopts[k].off;
      if (numopts[k].width == 32) {
        uint32_t y = (uint32_t)x;
        memcpy(field, &y, sizeof y);
      } else {
        memcpy(field, &x, sizeof x);
      }
    }
  }
  if (o->no_listen && o->nlisten > 0)
    return yz_cli_usage_error("--no-listen and --listen exclude each other");
  if (!o->no_listen && o->nlisten == 0)
    o->listen[o->nlisten++] = DEFAULT_LISTEN;
  bool wss = false;
  for (size_t i = 0; i < o->nlisten; i++)
    wss |= strncmp(o->listen[i], "wss://", 6) == 0;
  if (wss && (o->tls_cert == NULL || o->tls_key == NULL))
    return yz_cli_usage_error("a wss:// listener needs --tls-cert and --tls-key");
  if (!wss && (o->tls_cert != NULL || o->tls_key != NULL))
    return yz_cli_usage_error("--tls-cert and --tls-key serve wss:// listeners; "
                       "there is none");
  /* The link layer's rule (yz/link.h mem_budget_bytes): one message of the
   * maximum size must fit while another is held. */
  uint64_t max_msg = o->max_message_size ? o->max_message_size : 1u << 20;
  if (o->mem_budget != 0 && o->mem_budget / 2 < max_msg)
    return yz_cli_usage_error("--mem-budget must be at least twice the "
                              "maximum message size (%llu)",
                              (unsigned long long)max_msg);
  return 0;
}
