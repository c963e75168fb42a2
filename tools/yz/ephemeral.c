/*
 * The ephemeral client node of yz dht, yz pub and yz sub (ephemeral.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ephemeral.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/wire.h"

int yz_eph_option(yz_eph_opts *o, const char *a, const char *v)
{
  if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
    o->verbose = true;
    return 1;
  }
  bool boot = strcmp(a, "--bootstrap") == 0;
  if (!boot && strcmp(a, "--network") != 0)
    return 0;
  if (v == NULL)
    return -yz_cli_usage_error("%s needs a value (or is unknown)", a);
  if (boot) {
    if (o->nbootstrap == YZ_EPH_MAX_BOOTSTRAP)
      return -yz_cli_usage_error("at most %d --bootstrap",
                                 YZ_EPH_MAX_BOOTSTRAP);
    o->bootstrap[o->nbootstrap++] = v;
  } else {
    if (!yz_wire_network_valid(v, strlen(v)))
      return -yz_cli_usage_error("--network: want 1..32 bytes of a-z 0-9 "
                                 ". - _");
    o->network = v;
  }
  return 2;
}

int yz_eph_options_check(const yz_eph_opts *o)
{
  if (o->nbootstrap == 0)
    return yz_cli_usage_error("--bootstrap: at least one node to join "
                              "through");
  return 0;
}

int yz_eph_open(yz_eph *e, const char *network, bool verbose, bool pubsub)
{
  memset(e, 0, sizeof *e);
  if (!verbose)
    yz_log_set_level(YZ_LOG_ERR);
  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return yz_cli_error("cannot generate an identity");
  if (uv_loop_init(&e->loop) != 0) {
    yz_identity_clear(&id);
    return yz_cli_error("cannot create the event loop");
  }
  e->loop_init = true;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  cfg.user_data = e;
  cfg.link.network = network;
  int err = yz_node_new(&e->node, &e->loop, &cfg);
  yz_identity_clear(&id);
  if (err != 0)
    return yz_cli_error("cannot create a node: %s", yz_strerror(err));
  yz_dht_config dcfg;
  yz_dht_config_default(&dcfg);
  dcfg.client_only = true;
  err = yz_dht_new(&e->dht, e->node, &dcfg);
  if (err == 0 && pubsub)
    err = yz_pubsub_new(&e->ps, e->node, e->dht, NULL);
  if (err == 0)
    err = yz_node_start(e->node);
  if (err != 0) {
    yz_eph_stop(e); /* yz_eph_run() then only drains the stop */
    return yz_cli_error("cannot start: %s", yz_strerror(err));
  }
  return 0;
}

int yz_eph_join(yz_eph *e, const char *const *bootstrap, size_t n,
                yz_dht_cb cb, void *arg)
{
  return yz_dht_join(e->dht, bootstrap, n, cb, arg, NULL);
}

static void on_dht_stopped(yz_dht *dht, void *arg)
{
  (void)dht;
  yz_eph *e = arg;
  yz_node_stop(e->node, NULL, NULL);
}

static void on_ps_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  yz_eph *e = arg;
  if (e->dht != NULL)
    yz_dht_stop(e->dht, on_dht_stopped, e);
  else
    yz_node_stop(e->node, NULL, NULL);
}

void yz_eph_stop(yz_eph *e)
{
  if (e->stopping || e->node == NULL)
    return;
  e->stopping = true;
  if (e->ps != NULL)
    yz_pubsub_stop(e->ps, on_ps_stopped, e);
  else
    on_ps_stopped(NULL, e);
}

int yz_eph_run(yz_eph *e)
{
  if (!e->loop_init)
    return YZ_EXIT_FAIL;
  uv_run(&e->loop, UV_RUN_DEFAULT);
  yz_pubsub_free(e->ps);
  yz_dht_free(e->dht);
  yz_node_free(e->node);
  e->ps = NULL;
  e->dht = NULL;
  e->node = NULL;
  if (uv_loop_close(&e->loop) != 0)
    return yz_cli_error("event loop not empty at exit");
  return 0;
}

/* ---- one overlay command ----------------------------------------------- */

uint64_t yz_eph_cmd_ms(const yz_eph_cmd *k)
{
  return (uv_hrtime() - k->t0) / 1000000u;
}

void yz_eph_cmd_finish(yz_eph_cmd *k, int code)
{
  if (k->stopping)
    return;
  k->stopping = true;
  k->exit_code = code;
  if (k->closing != NULL)
    k->closing(k);
  uv_close((uv_handle_t *)&k->guard, NULL);
  yz_eph_stop(&k->e);
}

static void cmd_joined(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  yz_eph_cmd *k = arg;
  if (k->stopping)
    return;
  k->join_ms = yz_eph_cmd_ms(k);
  if (r->status != 0 || yz_dht_table_size(dht) + r->n_closest == 0) {
    int st = r->status ? r->status : YZ_E_UNREACHABLE;
    fprintf(stderr, "%s: joined nobody: no bootstrap node answered (%s)\n",
            yz_cli_prog, yz_strerror(st));
    if (k->join_failed != NULL)
      k->join_failed(k, st);
    yz_eph_cmd_finish(k, YZ_EPH_EXIT_NETWORK);
    return;
  }
  k->joined(k);
}

static void cmd_guard(uv_timer_t *t)
{
  yz_eph_cmd *k = t->data;
  if (k->timed_out != NULL) {
    k->timed_out(k);
    return;
  }
  fprintf(stderr, "%s: no result within %u s\n", yz_cli_prog,
          k->timeout_ms / 1000);
  yz_eph_cmd_finish(k, YZ_EPH_EXIT_NETWORK);
}

int yz_eph_cmd_run(yz_eph_cmd *k, const yz_eph_opts *o, bool pubsub)
{
  int rc = yz_eph_open(&k->e, o->network, o->verbose, pubsub);
  if (rc != 0) {
    k->stopping = true;
    (void)yz_eph_run(&k->e);
    return rc;
  }
  uv_timer_init(&k->e.loop, &k->guard);
  k->guard.data = k;
  if (k->started != NULL)
    k->started(k);
  k->t0 = uv_hrtime();
  int err = yz_eph_join(&k->e, o->bootstrap, o->nbootstrap, cmd_joined, k);
  if (err != 0) {
    fprintf(stderr, "%s: cannot start: %s\n", yz_cli_prog, yz_strerror(err));
    yz_eph_cmd_finish(k, err == YZ_E_INVAL || err == YZ_E_ADDRESS
                             ? YZ_EXIT_USAGE
                             : YZ_EXIT_FAIL);
  } else if (k->timeout_ms != 0) {
    uv_timer_start(&k->guard, cmd_guard, k->timeout_ms, 0);
  }
  rc = yz_eph_run(&k->e);
  if (rc != 0 && k->exit_code == 0)
    return rc;
  return k->exit_code;
}
