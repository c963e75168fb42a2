/*
 * yz-node's PubSub (node_pubsub.h, docs/operations.md "PubSub").
 */
#include <stdio.h>
#include <string.h>

#include "node_pubsub.h"

/* How often the meshes are looked at for the log. */
enum { TICK_MS = 1000, MSG_LINES_BURST = 200, MSG_LINES_WINDOW_MS = 1000 };

static void on_message(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps;
  yzn_pubsub *p = ud;
  char author[YZ_NODE_ID_HEX_LEN + 1], from[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&m->author_id, author);
  if (m->from)
    yz_node_id_to_hex(m->from, from);
  else
    snprintf(from, sizeof from, "self");
  char lat[32] = "-";
  if (m->published_us)
    snprintf(lat, sizeof lat, "%.1f ms", (double)m->latency_us / 1000.0);
  /* a peer decides how many of these there are: rate-limited */
  (void)yz_log_rl(&p->msg_lines, uv_now(p->loop), YZ_LOG_INFO,
                  "pubsub: message on %s from %.16s seq %llu size %zu "
                  "latency %s (via %.16s)",
                  m->topic, author, (unsigned long long)m->seq, m->len, lat,
                  from);
}

static void on_tick(uv_timer_t *t)
{
  yzn_pubsub *p = t->data;
  for (size_t i = 0; i < p->o->nsubscribe; i++) {
    size_t m = yz_pubsub_mesh_size(p->ps, p->o->subscribe[i]);
    if (m != p->mesh[i]) {
      p->mesh[i] = m;
      yz_log(YZ_LOG_INFO, "pubsub: mesh of %s: %zu peers", p->o->subscribe[i],
             m);
    }
  }
}

int yzn_pubsub_start(yzn_pubsub *p, uv_loop_t *loop, yz_node *node,
                     yz_dht *dht, const yzn_options *o)
{
  memset(p, 0, sizeof *p);
  p->loop = loop;
  p->o = o;
  p->msg_lines = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(
      MSG_LINES_BURST, MSG_LINES_WINDOW_MS);
  yz_pubsub_config cfg;
  yz_pubsub_config_default(&cfg);
  int err = yz_pubsub_new(&p->ps, node, dht, &cfg);
  if (err != 0) {
    yz_log(YZ_LOG_ERR, "cannot start PubSub: %s", yz_strerror(err));
    return 1;
  }
  for (size_t i = 0; i < o->nsubscribe; i++) {
    err = yz_pubsub_subscribe(p->ps, o->subscribe[i], NULL, on_message, p);
    if (err != 0) {
      yz_log(YZ_LOG_ERR, "pubsub: cannot subscribe to %s: %s",
             o->subscribe[i], yz_strerror(err));
      return 1;
    }
    yz_log(YZ_LOG_INFO, "pubsub: subscribed to %s", o->subscribe[i]);
  }
  uv_timer_init(loop, &p->tick);
  p->tick.data = p;
  p->timer_init = true;
  if (o->nsubscribe)
    uv_timer_start(&p->tick, on_tick, TICK_MS, TICK_MS);
  return 0;
}

static void on_ps_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  yzn_pubsub *p = arg;
  if (p->msg_lines.suppressed)
    yz_log(YZ_LOG_INFO, "pubsub: %u message lines suppressed (rate limit)",
           (unsigned)p->msg_lines.suppressed);
  p->on_stopped(p->stopped_arg);
}

static void on_closed(uv_handle_t *h) { (void)h; }

void yzn_pubsub_stop(yzn_pubsub *p, void (*on_stopped)(void *arg), void *arg)
{
  p->on_stopped = on_stopped;
  p->stopped_arg = arg;
  if (p->stopping)
    return;
  p->stopping = true;
  if (p->timer_init)
    uv_close((uv_handle_t *)&p->tick, on_closed);
  if (p->ps == NULL) {
    on_stopped(arg);
    return;
  }
  yz_pubsub_stop(p->ps, on_ps_stopped, p);
}

void yzn_pubsub_free(yzn_pubsub *p)
{
  yz_pubsub_free(p->ps);
  p->ps = NULL;
}
