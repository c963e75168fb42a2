/*
 * yz-node: the yz daemon. Parses its options (options.c), loads or creates
 * its identity key, listens, prints its node addresses on stdout, keeps
 * links to its configured peers, logs every link up and down, and stops
 * cleanly on SIGINT or SIGTERM (uv signal handlers: libwebsockets installs
 * none on a foreign loop, TOOLCHAIN.md 2).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <errno.h>
#include <sys/stat.h>

#include "cli.h"
#include "node_dht.h"
#include "node_pubsub.h"
#include "options.h"
#include "yz/address.h"
#include "yz/common.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/session.h"

struct app {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  uv_timer_t trim;
  yz_node *node;
  yzn_dht dht;
  yzn_pubsub pubsub;
  bool stopping;
  int exit_code;
};

static const char *level_word[] = {"error", "warn", "notice", "info",
                                   "debug"};

/* Log lines: "2026-11-22T03:04:05Z info  link up: ..." on stderr. */
static void log_sink(yz_log_level level, const char *line, void *ud)
{
  (void)ud;
  /* libwebsockets' own notices (its banner, plugin path) are for debugging
   * it; its warnings and errors stay. */
  if (level >= YZ_LOG_NOTICE && strncmp(line, "lws: ", 5) == 0 &&
      yz_log_get_level() < YZ_LOG_DEBUG)
    return;
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(stderr, "%s %-5s %s\n", ts,
          (unsigned)level < 5 ? level_word[level] : "?", line);
}

/* The lines a peer causes (link and peer up and down, dial failures) share
 * one budget (docs/operations.md "Logs"): a peer, or thousands of them,
 * cannot flood the log. What it drops is counted in the next line that
 * passes, and at exit. */
enum { YZN_PEER_LINES_BURST = 20, YZN_PEER_LINES_WINDOW_MS = 10000 };

static yz_log_ratelimit peer_lines =
    YZ_LOG_RATELIMIT_INIT(YZN_PEER_LINES_BURST, YZN_PEER_LINES_WINDOW_MS);

static const char *dir_word(yz_link_direction d)
{
  return d == YZ_LINK_INBOUND ? "inbound" : "outbound";
}

static void on_link(yz_node *node, const yz_node_id *peer,
                    yz_link_direction dir, bool up, int err,
                    const char *reason, void *ud)
{
  (void)node;
  struct app *a = ud;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(peer, hex);
  if (up)
    yz_log_rl(&peer_lines, uv_now(&a->loop), YZ_LOG_INFO,
              "link up: peer %s (%s)", hex, dir_word(dir));
  else
    yz_log_rl(&peer_lines, uv_now(&a->loop), YZ_LOG_INFO,
              "link down: peer %s (%s): %s [%s]", hex, dir_word(dir), reason,
              yz_err_name(err));
}

static void on_peer_up(yz_node *node, const yz_link_peer *p, void *ud)
{
  (void)node;
  struct app *a = ud;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&p->id, hex);
  /* What its identity proof advertises (docs/protocol.md section 5), so
   * that an operator sees where the peer says it can be reached. */
  char adv[YZ_WIRE_MAX_ADDRESSES * (YZ_WIRE_URL_MAX_LEN + 1) + 16] = "";
  size_t al = 0;
  for (size_t i = 0; p->proof != NULL && i < p->proof->n_addresses; i++) {
    int k = snprintf(adv + al, sizeof adv - al, "%s%s",
                     i ? " " : ", advertises ", p->proof->addresses[i].url);
    if (k < 0 || (size_t)k >= sizeof adv - al)
      break;
    al += (size_t)k;
  }
  yz_log_rl(&peer_lines, uv_now(&a->loop), YZ_LOG_INFO,
            "peer up: %s at %s%s%s", hex, p->remote_addr,
            p->tls ? " (wss)" : "", adv);
}

static void on_peer_down(yz_node *node, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)node;
  struct app *a = ud;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(peer, hex);
  yz_log_rl(&peer_lines, uv_now(&a->loop), YZ_LOG_INFO, "peer down: %s: %s [%s]",
            hex, reason, yz_err_name(err));
}

static void on_dial_failed(yz_node *node, const char *url,
                           const yz_node_id *expected, int err,
                           const char *reason, void *ud)
{
  (void)node;
  (void)expected;
  struct app *a = ud;
  yz_log_rl(&peer_lines, uv_now(&a->loop),
            err == YZ_E_PEER_ID_MISMATCH ? YZ_LOG_WARN : YZ_LOG_INFO,
            "dial %s failed: %s [%s]", url, reason, yz_err_name(err));
}

static void on_stopped(yz_node *node, void *arg)
{
  (void)node;
  (void)arg;
  if (peer_lines.suppressed > 0)
    yz_log(YZ_LOG_INFO, "%u peer event lines suppressed (rate limit)",
           (unsigned)peer_lines.suppressed);
  yz_log(YZ_LOG_INFO, "stopped");
}

static void on_signal_closed(uv_handle_t *h) { (void)h; }

/* The link layer frees reassembly buffers after delivery and the buffers
 * of idle links (docs/operations.md "Memory budget"), but glibc keeps
 * freed memory inside its heap, where only the top is given back: after a
 * burst, the process would stay at its peak. Give it back now and then. */
#define TRIM_INTERVAL_MS 10000

static void on_trim(uv_timer_t *t)
{
  (void)t;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static void dht_stopped(void *arg)
{
  struct app *a = arg;
  yz_node_stop(a->node, on_stopped, a);
}

static void pubsub_stopped(void *arg)
{
  struct app *a = arg;
  yzn_dht_stop(&a->dht, dht_stopped, a);
}

/* --data-dir: created with mode 0700 if missing, with any missing parent
 * (also 0700); it must be a directory. */
static int prepare_data_dir(const char *dir)
{
  char path[4096];
  size_t len = strlen(dir);
  if (len >= sizeof path) {
    yz_log(YZ_LOG_ERR, "data directory %s: path too long", dir);
    return 1;
  }
  memcpy(path, dir, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char saved = path[i];
    path[i] = '\0';
    bool last = i == len || (saved == '/' && path[i + 1] == '\0');
    if (mkdir(path, 0700) == 0) {
      if (last)
        yz_log(YZ_LOG_INFO, "created data directory %s (mode 0700)", dir);
    } else {
      struct stat st;
      if (errno != EEXIST || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        yz_log(YZ_LOG_ERR, "data directory %s: %s: %s", dir, path,
               errno == EEXIST ? "not a directory" : strerror(errno));
        return 1;
      }
    }
    path[i] = saved;
    if (last)
      break;
  }
  return 0;
}

static void begin_stop(struct app *a)
{
  if (a->stopping)
    return;
  a->stopping = true;
  uv_close((uv_handle_t *)&a->sigint, on_signal_closed);
  uv_close((uv_handle_t *)&a->sigterm, on_signal_closed);
  uv_close((uv_handle_t *)&a->trim, on_signal_closed);
  /* PubSub first (it uses the DHT), then the DHT (it saves its data
   * directory), then the node. */
  yzn_pubsub_stop(&a->pubsub, pubsub_stopped, a);
}

static void on_signal(uv_signal_t *s, int signum)
{
  struct app *a = s->data;
  yz_log(YZ_LOG_INFO, "%s: shutting down",
         signum == SIGINT ? "SIGINT" : "SIGTERM");
  begin_stop(a);
}

static int load_key(const char *path, yz_identity *id)
{
  bool created = false;
  const char *reason = NULL;
  int err = yz_identity_load_or_create(id, path, &created, &reason);
  if (err != 0) {
    yz_log(YZ_LOG_ERR, "key file %s: %s", path,
           reason ? reason : yz_strerror(err));
    return err;
  }
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(yz_identity_node_id(id), hex);
  if (created)
    yz_log(YZ_LOG_INFO, "created key file %s (mode 0600): new node ID %s",
           path, hex);
  else
    yz_log(YZ_LOG_INFO, "loaded key file %s: node ID %s", path, hex);
  return 0;
}

static void fill_config(yz_node_config *cfg, const yzn_options *o)
{
  yz_node_config_default(cfg);
  yz_link_config *l = &cfg->link;
#define SET(dst, src)                                                         \
  if ((src) != 0)                                                             \
  (dst) = (src)
  SET(l->max_links, o->max_links);
  SET(l->max_handshakes, o->max_handshakes);
  SET(l->ip_rate_per_s, o->ip_rate);
  SET(l->ip_rate_burst, o->ip_burst);
  SET(l->handshake_timeout_ms, o->handshake_timeout_ms);
  SET(l->max_handshakes_per_source, o->max_handshakes_per_source);
  SET(l->max_links_per_source, o->max_links_per_source);
  SET(l->evict_min_idle_ms, o->evict_min_idle_ms);
  SET(l->ping_interval_ms, o->ping_interval_ms);
  SET(l->missed_pongs, o->missed_pongs);
  SET(l->max_message_size, (size_t)o->max_message_size);
  SET(l->send_queue_max_bytes, (size_t)o->queue_max_bytes);
  SET(l->send_queue_max_msgs, o->queue_max_msgs);
  SET(cfg->request_timeout_ms, o->request_timeout_ms);
  SET(cfg->redial_max_ms, o->redial_max_ms);
  SET(l->mem_budget_bytes, (size_t)o->mem_budget);
  SET(l->cookie_load_pct, o->cookie_load_pct);
  SET(l->cookie_msg1_per_s, o->cookie_rate);
  l->cookie_always = o->cookie_always;
  SET(cfg->link_cap, o->link_cap);
  SET(cfg->link_idle_ms, o->link_idle_ms);
#undef SET
  l->tls_ca_file = o->tls_ca;
  l->network = o->network;
  cfg->cb.on_link = on_link;
  cfg->cb.on_peer_up = on_peer_up;
  cfg->cb.on_peer_down = on_peer_down;
  cfg->cb.on_dial_failed = on_dial_failed;
}

/* The addresses the identity proof advertises (docs/protocol.md section
 * 5, docs/operations.md "yz-node"): the --advertise URLs, else each
 * listener's URL that names a host and a port. The proof is signed when
 * the node is created, before any listener is open, so a wildcard host
 * (0.0.0.0, [::]: where others reach the node is not known) or port 0
 * (the kernel picks it later) is not advertised there; the DHT's node
 * record, built once the listeners are open, has the real port. */
struct proof_addrs {
  char url[YZ_WIRE_MAX_ADDRESSES][YZ_ADDRESS_TEXT_MAX];
  const char *ptr[YZ_WIRE_MAX_ADDRESSES];
  uint64_t types[YZ_WIRE_MAX_ADDRESSES];
  size_t n;
};

static void proof_addresses(const yzn_options *o, struct proof_addrs *pa)
{
  pa->n = 0;
  size_t n_src = o->nadvertise ? o->nadvertise : o->nlisten;
  for (size_t i = 0; i < n_src && pa->n < YZ_WIRE_MAX_ADDRESSES; i++) {
    const char *u = o->nadvertise ? o->advertise[i] : o->listen[i];
    yz_address a;
    if (yz_address_parse_listen(&a, (const uint8_t *)u, strlen(u), NULL) != 0)
      continue;
    if (!o->nadvertise && (a.port == 0 || strcmp(a.host, "0.0.0.0") == 0 ||
                           strcmp(a.host, "::") == 0))
      continue;
    a.has_id = false;
    int len = yz_address_format(&a, pa->url[pa->n], sizeof pa->url[0]);
    if (len < 0 || (size_t)len > YZ_WIRE_URL_MAX_LEN)
      continue;
    pa->ptr[pa->n] = pa->url[pa->n];
    pa->types[pa->n] = a.tls ? YZ_WIRE_CLIENT_WSS : YZ_WIRE_CLIENT_WS;
    pa->n++;
  }
}

static int run(const yzn_options *o)
{
  struct app a;
  memset(&a, 0, sizeof a);
  yz_identity id;
  static char key_path[4096];
  const char *key = o->key;
  if (o->data_dir != NULL) {
    if (prepare_data_dir(o->data_dir) != 0)
      return 1;
    if (!o->key_given) {
      snprintf(key_path, sizeof key_path, "%s/yz-node.key", o->data_dir);
      key = key_path;
    }
  }
  if (load_key(key, &id) != 0)
    return 1;

  if (uv_loop_init(&a.loop) != 0) {
    yz_identity_clear(&id);
    yz_log(YZ_LOG_ERR, "cannot create the event loop");
    return 1;
  }
  yz_node_config cfg;
  fill_config(&cfg, o);
  cfg.identity = &id;
  cfg.user_data = &a;
  static struct proof_addrs pa;
  proof_addresses(o, &pa);
  yz_session_proof_options po = {0};
  po.n_addresses = pa.n;
  po.address_urls = pa.ptr;
  po.address_client_types = pa.types;
  cfg.link.proof = &po;
  int err = yz_node_new(&a.node, &a.loop, &cfg);
  yz_identity_clear(&id);
  if (err != 0) {
    yz_log(YZ_LOG_ERR, "cannot create the node: %s", yz_strerror(err));
    uv_loop_close(&a.loop);
    return 1;
  }
  uv_signal_init(&a.loop, &a.sigint);
  uv_signal_init(&a.loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_timer_init(&a.loop, &a.trim);
  uv_timer_start(&a.trim, on_trim, TRIM_INTERVAL_MS, TRIM_INTERVAL_MS);

  for (size_t i = 0; i < o->nlisten && err == 0; i++) {
    yz_link_listen_config lc = {.url = o->listen[i]};
    if (strncmp(o->listen[i], "wss://", 6) == 0) {
      lc.tls_cert_file = o->tls_cert;
      lc.tls_key_file = o->tls_key;
    }
    err = yz_node_listen(a.node, &lc);
    if (err != 0)
      yz_log(YZ_LOG_ERR, "cannot listen on %s: %s", o->listen[i],
             yz_strerror(err));
    else
      yz_log(YZ_LOG_INFO, "listening on %s",
             yz_node_address(a.node, yz_node_address_count(a.node) - 1));
  }
  yz_node_dial_opts dopts = {0};
  if (o->tls_allow_selfsigned)
    dopts.tls_flags |= YZ_LINK_TLS_ALLOW_SELFSIGNED |
                       YZ_LINK_TLS_SKIP_HOSTNAME_CHECK;
  for (size_t i = 0; i < o->npeers && err == 0; i++) {
    dopts.unpinned = o->peer_unpinned[i];
    err = yz_node_add_peer(a.node, o->peers[i], &dopts);
    if (err != 0)
      yz_log(YZ_LOG_ERR, "peer %s: %s", o->peers[i], yz_strerror(err));
    else if (dopts.unpinned)
      yz_log(YZ_LOG_WARN,
             "peer %s is unpinned: any node at that URL is accepted",
             o->peers[i]);
  }
  if (err == 0 && yzn_dht_start(&a.dht, &a.loop, a.node, o) != 0)
    err = YZ_E_STATE;
  if (err == 0 &&
      yzn_pubsub_start(&a.pubsub, &a.loop, a.node, a.dht.dht, o) != 0)
    err = YZ_E_STATE;
  if (err == 0)
    err = yz_node_start(a.node);
  if (err == 0) {
    /* The lines scripts wait for: one per listener, then "ready". */
    for (size_t i = 0; yz_node_address(a.node, i) != NULL; i++)
      printf("address %s\n", yz_node_address(a.node, i));
    printf("ready\n");
    fflush(stdout);
    yzn_dht_join(&a.dht);
  } else {
    a.exit_code = 1;
    begin_stop(&a);
  }

  uv_run(&a.loop, UV_RUN_DEFAULT);
  yzn_pubsub_free(&a.pubsub);
  yzn_dht_free(&a.dht);
  yz_node_free(a.node);
  int rc = uv_loop_close(&a.loop);
  if (rc != 0) {
    yz_log(YZ_LOG_ERR, "event loop not empty at exit: %s", uv_strerror(rc));
    return 1;
  }
  return a.exit_code;
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_cli_prog = "yz-node"; /* for yz_cli_usage_error() */
  yzn_options o;
  int rc = yzn_options_parse(&o, argc, argv);
  if (rc != 0)
    return rc;
  if (o.help) {
    yzn_usage(stdout);
    return 0;
  }
  if (o.version) {
    printf("yz-node %s\n", yz_version());
    return 0;
  }
  if (yz_init() != 0) {
    fprintf(stderr, "yz-node: cannot initialise libsodium\n");
    return 1;
  }
  yz_log_set_sink(log_sink, NULL);
  yz_log_set_level(o.log_level);
  if (o.peer_log_burst != 0)
    peer_lines.burst = o.peer_log_burst;
  if (o.peer_log_window_ms != 0)
    peer_lines.window_ms = o.peer_log_window_ms;
  return run(&o);
}
