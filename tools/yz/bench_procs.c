/*
 * yz-node processes for the benches: see bench_procs.h.
 */
#include "bench_procs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "yz/identity.h"

static void on_guard(uv_timer_t *t)
{
  ((yz_bench_procs *)t->data)->guard_fired = true;
}

void yz_bench_procs_init(yz_bench_procs *s, int n, const char *join_marker,
                         uint64_t guard_ms)
{
  memset(s, 0, sizeof *s);
  s->n = n < YZ_BENCH_PROCS_MAX ? n : YZ_BENCH_PROCS_MAX;
  s->join_marker = join_marker;
  uv_loop_init(&s->loop);
  uv_timer_init(&s->loop, &s->guard);
  s->guard.data = s;
  uv_timer_start(&s->guard, on_guard, guard_ms, 0);
}

bool yz_bench_procs_run_until(yz_bench_procs *s, bool (*cond)(void *),
                              void *arg)
{
  while (!cond(arg) && !s->guard_fired)
    uv_run(&s->loop, UV_RUN_ONCE);
  return !s->guard_fired;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)h;
  (void)hint;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_line(yz_bench_proc *pr, int which, const char *line)
{
  if (which == 0 && strncmp(line, "address ws://", 13) == 0 &&
      pr->addr[0] == '\0')
    snprintf(pr->addr, sizeof pr->addr, "%s", line + 8);
  else if (which == 0 && strcmp(line, "ready") == 0 && !pr->ready) {
    pr->ready = true;
    pr->set->n_ready++;
  } else if (which == 1 && pr->set->join_marker != NULL &&
             strstr(line, pr->set->join_marker) != NULL && !pr->joined) {
    pr->joined = true;
    pr->set->n_joined++;
  }
}

static void read_common(uv_stream_t *st, ssize_t n, const uv_buf_t *buf,
                        int which)
{
  yz_bench_proc *pr = st->data;
  if (n < 0) {
    uv_close((uv_handle_t *)st, NULL);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf->base[i];
    if (ch == '\n') {
      pr->line[which][pr->line_len[which]] = '\0';
      on_line(pr, which, pr->line[which]);
      pr->line_len[which] = 0;
    } else if (pr->line_len[which] < sizeof pr->line[0] - 1) {
      pr->line[which][pr->line_len[which]++] = ch;
    }
  }
}

static void read_out(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  read_common(st, n, buf, 0);
}
static void read_err(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  read_common(st, n, buf, 1);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
  (void)status;
  (void)sig;
  yz_bench_proc *pr = p->data;
  pr->exited = true;
  uv_close((uv_handle_t *)p, NULL);
}

/* The yz-node to spawn: $YZ_NODE, the build tree's, or the installed one
 * next to yz. */
static int find_yz_node(char *out, size_t cap)
{
  const char *env = getenv("YZ_NODE");
  if (env != NULL && access(env, X_OK) == 0) {
    snprintf(out, cap, "%s", env);
    return 0;
  }
  char self[PATH_MAX - 32];
  size_t n = sizeof self;
  if (uv_exepath(self, &n) != 0)
    return -1;
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return -1;
  *slash = '\0';
  snprintf(out, cap, "%s/../yz-node/yz-node", self);
  if (access(out, X_OK) == 0)
    return 0;
  snprintf(out, cap, "%s/yz-node", self);
  return access(out, X_OK) == 0 ? 0 : -1;
}

static int spawn(yz_bench_procs *s, int i, const char *exe, const char *boot)
{
  yz_bench_proc *pr = &s->procs[i];
  pr->set = s;
  char key[PATH_MAX];
  snprintf(key, sizeof key, "%s/n%d.key", s->dir, i);
  const char *args[8 + YZ_BENCH_PROCS_EXTRA];
  int k = 0;
  args[k++] = exe;
  args[k++] = "--listen";
  args[k++] = "ws://127.0.0.1:0";
  args[k++] = "--key";
  args[k++] = key;
  if (boot != NULL) {
    args[k++] = "--bootstrap";
    args[k++] = boot;
  }
  for (int j = 0; j < s->n_extra && j < YZ_BENCH_PROCS_EXTRA; j++)
    args[k++] = s->extra_args[j];
  args[k] = NULL;
  uv_pipe_init(&s->loop, &pr->out, 0);
  uv_pipe_init(&s->loop, &pr->err, 0);
  pr->out.data = pr->err.data = pr;
  uv_stdio_container_t io[3];
  io[0].flags = UV_IGNORE;
  io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[1].data.stream = (uv_stream_t *)&pr->out;
  io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[2].data.stream = (uv_stream_t *)&pr->err;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = exe;
  po.args = (char **)args;
  po.exit_cb = on_exit_cb;
  po.stdio = io;
  po.stdio_count = 3;
  pr->p.data = pr;
  int rc = uv_spawn(&s->loop, &pr->p, &po);
  if (rc != 0) {
    uv_close((uv_handle_t *)&pr->out, NULL);
    uv_close((uv_handle_t *)&pr->err, NULL);
    pr->exited = true;
    return rc;
  }
  uv_read_start((uv_stream_t *)&pr->out, alloc_cb, read_out);
  uv_read_start((uv_stream_t *)&pr->err, alloc_cb, read_err);
  return 0;
}

static bool boot_ready(void *arg)
{
  return ((yz_bench_procs *)arg)->procs[0].ready;
}
static bool all_joined(void *arg)
{
  yz_bench_procs *s = arg;
  return s->n_ready == (unsigned)s->n && s->n_joined == (unsigned)s->n - 1;
}
static bool all_exited(void *arg)
{
  yz_bench_procs *s = arg;
  for (int i = 0; i < s->n; i++)
    if (!s->procs[i].exited)
      return false;
  return true;
}

int yz_bench_procs_start(yz_bench_procs *s, const char *tag)
{
  /* Until spawned, a process counts as exited (nothing to stop). */
  for (int i = 0; i < s->n; i++)
    s->procs[i].exited = true;
  char exe[PATH_MAX];
  if (find_yz_node(exe, sizeof exe) != 0)
    return yz_cli_error("%s: yz-node not found (next to yz, in the build "
                        "tree, or $YZ_NODE)",
                        tag);
  snprintf(s->dir, sizeof s->dir, "/tmp/yz-bench-%s.XXXXXX", tag);
  if (mkdtemp(s->dir) == NULL) {
    s->dir[0] = '\0';
    return yz_cli_error("%s: cannot create a temporary directory", tag);
  }
  s->procs[0].exited = false;
  if (spawn(s, 0, exe, NULL) != 0 ||
      !yz_bench_procs_run_until(s, boot_ready, s))
    return yz_cli_error("%s: the first yz-node did not start", tag);
  for (int i = 1; i < s->n; i++) {
    s->procs[i].exited = false;
    if (spawn(s, i, exe, s->procs[0].addr) != 0)
      return yz_cli_error("%s: cannot start yz-node %d", tag, i);
  }
  if (!yz_bench_procs_run_until(s, all_joined, s))
    return yz_cli_error("%s: the yz-node processes did not all join", tag);
  return 0;
}

static void on_joined(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  yz_bench_procs *s = arg;
  s->joined = true;
  s->join_status = r->status;
}
static bool joined(void *arg)
{
  return ((yz_bench_procs *)arg)->joined;
}

int yz_bench_procs_client(yz_bench_procs *s, const char *tag)
{
  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return yz_cli_error("%s: no identity", tag);
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  int err = yz_node_new(&s->node, &s->loop, &cfg);
  yz_identity_clear(&id);
  yz_dht_config dcfg;
  yz_dht_config_default(&dcfg);
  dcfg.client_only = true;
  if (err == 0)
    err = yz_dht_new(&s->dht, s->node, &dcfg);
  if (err == 0)
    err = yz_node_start(s->node);
  const char *boot[1] = {s->procs[0].addr};
  if (err == 0)
    err = yz_dht_join(s->dht, boot, 1, on_joined, s, NULL);
  if (err != 0 || !yz_bench_procs_run_until(s, joined, s) ||
      s->join_status != 0)
    return yz_cli_error("%s: the client could not join: %s", tag,
                        yz_strerror(err ? err : s->join_status));
  return 0;
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  yz_bench_procs *s = arg;
  yz_node_stop(s->node, NULL, NULL);
}

void yz_bench_procs_rearm(yz_bench_procs *s, uint64_t ms)
{
  s->guard_fired = false;
  uv_timer_start(&s->guard, on_guard, ms, 0);
}

void yz_bench_procs_stop(yz_bench_procs *s)
{
  if (s->dht != NULL)
    yz_dht_stop(s->dht, on_dht_stopped, s);
  else if (s->node != NULL)
    yz_node_stop(s->node, NULL, NULL);
  for (int i = 0; i < s->n; i++)
    if (!s->procs[i].exited)
      uv_process_kill(&s->procs[i].p, SIGTERM);
  yz_bench_procs_rearm(s, 30000);
  if (!yz_bench_procs_run_until(s, all_exited, s))
    for (int i = 0; i < s->n; i++)
      if (!s->procs[i].exited)
        uv_process_kill(&s->procs[i].p, SIGKILL);
  uv_close((uv_handle_t *)&s->guard, NULL);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  yz_dht_free(s->dht);
  yz_node_free(s->node);
  s->dht = NULL;
  s->node = NULL;
  if (s->before_close != NULL)
    s->before_close(s->close_arg);
  uv_loop_close(&s->loop);
  if (s->dir[0] != '\0') {
    for (int i = 0; i < s->n; i++) {
      char key[PATH_MAX];
      snprintf(key, sizeof key, "%s/n%d.key", s->dir, i);
      unlink(key);
    }
    rmdir(s->dir);
  }
}

void yz_bench_procs_begin(yz_bench_procs *s)
{
  s->t0 = uv_hrtime();
}

double yz_bench_procs_elapsed_ms(const yz_bench_procs *s)
{
  return (double)(uv_hrtime() - s->t0) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double yz_bench_median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}
