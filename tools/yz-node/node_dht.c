/* yz-node's DHT: see node_dht.h. */
#include "node_dht.h"

#include <stdio.h>
#include <string.h>

#include "yz/address.h"
#include "yz/log.h"
#include "yz/wire.h"

enum {
  TICK_MS = 250,            /* how often the table size is looked at */
  TABLE_LOG_MIN_MS = 1000,  /* at most one table-size line a second */
  REJOIN_MAX_MS = 30000,    /* the longest wait between join attempts */
  SAVE_DEFAULT_S = 300,
};

static bool wildcard_host(const yz_address *a)
{
  return strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
}

/* The node record's addresses: --advertise, else the listeners' own
 * addresses without their #NODEID, except wildcard ones: 0.0.0.0 says
 * nothing about where others reach the node, and a wrong guess would be
 * signed into its record. */
static void choose_addresses(yzn_dht *d)
{
  const yzn_options *o = d->o;
  d->n_adv = 0;
  if (o->nadvertise > 0) {
    for (size_t i = 0; i < o->nadvertise; i++) {
      snprintf(d->adv[d->n_adv], sizeof d->adv[0], "%s", o->advertise[i]);
      d->adv_types[d->n_adv] = strncmp(o->advertise[i], "wss://", 6) == 0
                                   ? YZ_WIRE_CLIENT_WSS
                                   : YZ_WIRE_CLIENT_WS;
      d->n_adv++;
    }
  } else {
    size_t skipped = 0;
    for (size_t i = 0; yz_node_address(d->node, i) != NULL &&
                       d->n_adv < sizeof d->adv / sizeof d->adv[0];
         i++) {
      const char *url = yz_node_address(d->node, i);
      yz_address a;
      if (yz_address_parse(&a, (const uint8_t *)url, strlen(url), NULL) != 0)
        continue;
      if (wildcard_host(&a)) {
        skipped++;
        continue;
      }
      const char *hash = strchr(url, '#');
      size_t len = hash ? (size_t)(hash - url) : strlen(url);
      snprintf(d->adv[d->n_adv], sizeof d->adv[0], "%.*s", (int)len, url);
      d->adv_types[d->n_adv] = a.tls ? YZ_WIRE_CLIENT_WSS : YZ_WIRE_CLIENT_WS;
      d->n_adv++;
    }
    if (skipped > 0 && !o->dht_client)
      yz_log(YZ_LOG_WARN,
             "dht: a listener on 0.0.0.0 or [::] does not say where others "
             "reach this node; pass --advertise ws://HOST:PORT/%s",
             d->n_adv == 0 ? " (until then the node is client-only in the "
                             "DHT: it queries, but nobody can find it)"
                           : "");
  }
  for (size_t i = 0; i < d->n_adv; i++)
    d->adv_ptr[i] = d->adv[i];
}

static void log_table(yzn_dht *d, const char *why)
{
  size_t n = yz_dht_table_size(d->dht);
  d->logged_size = n;
  d->last_log_ms = uv_now(d->loop);
  yz_log(YZ_LOG_INFO, "dht: routing table %zu contacts%s", n, why);
}

static void start_join(yzn_dht *d);

static void on_rejoin(uv_timer_t *t) { start_join(t->data); }

static void on_joined(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  yzn_dht *d = arg;
  d->joining = false;
  if (d->stopping)
    return;
  if (r->status == 0) {
    d->join_attempts = 0;
    d->joined_once = true;
    yz_log(YZ_LOG_INFO,
           "dht: joined: %zu closest nodes, %u rounds, %u queried, %u "
           "answered, %llu ms",
           r->n_closest, r->stats.rounds, r->stats.queried,
           r->stats.answered, (unsigned long long)r->stats.elapsed_ms);
    log_table(d, " (join done)");
    return;
  }
  /* Nobody answered yet (the bootstrap nodes may be starting too): try
   * again, backing off. */
  uint64_t wait = 1000ull << (d->join_attempts < 5 ? d->join_attempts : 5);
  if (wait > REJOIN_MAX_MS)
    wait = REJOIN_MAX_MS;
  yz_log(YZ_LOG_INFO, "dht: join failed: %s [%s]; again in %llu ms",
         yz_strerror(r->status), yz_err_name(r->status),
         (unsigned long long)wait);
  uv_timer_start(&d->rejoin, on_rejoin, wait, 0);
}

static void start_join(yzn_dht *d)
{
  if (d->stopping || d->joining || d->o->nbootstrap == 0)
    return;
  d->join_attempts++;
  int err = yz_dht_join(d->dht, d->o->bootstrap, d->o->nbootstrap, on_joined,
                        d, &d->join_op);
  if (err != 0) {
    yz_log(YZ_LOG_WARN, "dht: cannot join: %s", yz_strerror(err));
    uv_timer_start(&d->rejoin, on_rejoin, REJOIN_MAX_MS, 0);
    return;
  }
  d->joining = true;
}

static void on_tick(uv_timer_t *t)
{
  yzn_dht *d = t->data;
  size_t n = yz_dht_table_size(d->dht);
  if (n != d->logged_size &&
      uv_now(d->loop) - d->last_log_ms >= TABLE_LOG_MIN_MS)
    log_table(d, "");
  /* A table that emptied (every contact gone) is refilled from the
   * bootstrap nodes. */
  if (n == 0 && d->joined_once && !d->joining &&
      !uv_is_active((uv_handle_t *)&d->rejoin)) {
    d->joined_once = false;
    yz_log(YZ_LOG_INFO, "dht: routing table empty: joining again");
    start_join(d);
  }
}

static void save(yzn_dht *d)
{
  const char *reason = NULL;
  int err = yz_dht_save(d->dht, d->o->data_dir, &reason);
  if (err != 0)
    yz_log(YZ_LOG_WARN, "dht: cannot save to %s: %s", d->o->data_dir,
           reason ? reason : yz_strerror(err));
  else
    yz_log(YZ_LOG_DEBUG, "dht: saved to %s", d->o->data_dir);
}

static void on_save(uv_timer_t *t) { save(t->data); }

int yzn_dht_start(yzn_dht *d, uv_loop_t *loop, yz_node *node,
                  const yzn_options *o)
{
  memset(d, 0, sizeof *d);
  d->loop = loop;
  d->node = node;
  d->o = o;
  choose_addresses(d);
  yz_dht_config cfg;
  yz_dht_config_default(&cfg);
  cfg.addresses = d->adv_ptr;
  cfg.address_client_types = d->adv_types;
  cfg.n_addresses = d->n_adv;
  cfg.client_only = o->dht_client || d->n_adv == 0;
  cfg.capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE;
  if (o->dht_store_max)
    cfg.store_bytes_max = (size_t)o->dht_store_max;
  if (o->dht_records_max)
    cfg.store_records_max = o->dht_records_max;
  if (o->dht_value_max)
    cfg.value_max = (size_t)o->dht_value_max;
  if (o->dht_k)
    cfg.k = o->dht_k;
  int err = yz_dht_new(&d->dht, node, &cfg);
  if (err != 0) {
    yz_log(YZ_LOG_ERR, "cannot create the DHT: %s", yz_strerror(err));
    return 1;
  }
  if (cfg.client_only)
    yz_log(YZ_LOG_INFO, "dht: client-only (queries only, in nobody's "
                        "routing table)");
  else
    for (size_t i = 0; i < d->n_adv; i++)
      yz_log(YZ_LOG_INFO, "dht: node record advertises %s", d->adv[i]);

  if (o->data_dir != NULL) {
    size_t nc = 0, nr = 0;
    const char *reason = NULL;
    err = yz_dht_load(d->dht, o->data_dir, &nc, &nr, &reason);
    /* A corrupt file is reported and ignored: the node starts with what
     * could be read (yz/dht.h). */
    if (err != 0)
      yz_log(YZ_LOG_WARN, "dht: %s", reason ? reason : yz_strerror(err));
    yz_log(YZ_LOG_INFO, "dht: loaded %zu contacts and %zu records from %s", nc,
           nr, o->data_dir);
  }
  uv_timer_init(loop, &d->tick);
  uv_timer_init(loop, &d->save);
  uv_timer_init(loop, &d->rejoin);
  d->tick.data = d->save.data = d->rejoin.data = d;
  d->timers_init = true;
  uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
  if (o->data_dir != NULL) {
    uint64_t every = 1000ull * (o->dht_save_interval_s
                                    ? o->dht_save_interval_s
                                    : SAVE_DEFAULT_S);
    uv_timer_start(&d->save, on_save, every, every);
  }
  return 0;
}

void yzn_dht_join(yzn_dht *d)
{
  if (d->o->nbootstrap == 0)
    yz_log(YZ_LOG_INFO, "dht: no --bootstrap: waiting for others to join "
                        "through this node");
  start_join(d);
}

static void on_dht_stopped(yz_dht *dht, void *arg)
{
  (void)dht;
  yzn_dht *d = arg;
  if (d->o->data_dir != NULL)
    save(d);
  d->on_stopped(d->stopped_arg);
}

static void on_timer_closed(uv_handle_t *h) { (void)h; }

void yzn_dht_stop(yzn_dht *d, void (*on_stopped)(void *arg), void *arg)
{
  d->on_stopped = on_stopped;
  d->stopped_arg = arg;
  if (d->stopping)
    return;
  d->stopping = true;
  if (d->timers_init) {
    uv_close((uv_handle_t *)&d->tick, on_timer_closed);
    uv_close((uv_handle_t *)&d->save, on_timer_closed);
    uv_close((uv_handle_t *)&d->rejoin, on_timer_closed);
  }
  if (d->dht == NULL) {
    on_stopped(arg);
    return;
  }
  yz_dht_stop(d->dht, on_dht_stopped, d);
}

void yzn_dht_free(yzn_dht *d)
{
  yz_dht_free(d->dht);
  d->dht = NULL;
}
