/*
 * A small program that embeds libyz the way an application does: built
 * from the installed headers and library with the flags of
 * `pkg-config --cflags --libs yz` alone (tests/tools/test_embed.sh). It
 * calls libuv itself, as every embedder must (the API takes a uv_loop_t).
 *
 * Two link managers on one loop: A listens on ws://127.0.0.1 (port 0), B
 * dials A's address with A's node ID, and once the link is up B sends one
 * message that A must receive intact; then both managers close and the
 * loop must close cleanly. Prints "embed: ok NODEID" and exits 0 on
 * success.
 */
#include <stdio.h>
#include <string.h>

#include <uv.h>
#include <yz/yz.h>

static const char greeting[] = "hello from an embedder";

static struct {
  yz_link_manager *a, *b;
  const yz_node_id *a_id;
  int received, closed, failed;
} t;

static void on_closed(void *ud)
{
  (void)ud;
  t.closed++;
}

static void finish(void)
{
  yz_link_manager *a = t.a, *b = t.b;
  t.a = t.b = NULL;
  if (a)
    yz_link_manager_close(a, on_closed, NULL);
  if (b)
    yz_link_manager_close(b, on_closed, NULL);
}

static void on_up(yz_link_manager *m, yz_link *link, const yz_link_peer *peer,
                  void *ud)
{
  (void)ud;
  if (m == t.b && !yz_node_id_equal(&peer->id, t.a_id)) {
    fprintf(stderr, "embed: the link is up with another node ID\n");
    t.failed = 1;
    finish();
  } else if (m == t.b && yz_link_send(link, (const uint8_t *)greeting,
                               sizeof greeting - 1) != 0) {
    fprintf(stderr, "embed: yz_link_send failed\n");
    t.failed = 1;
    finish();
  }
}

static void on_message(yz_link_manager *m, yz_link *link, const uint8_t *msg,
                       size_t len, void *ud)
{
  (void)link;
  (void)ud;
  if (m != t.a || len != sizeof greeting - 1 ||
      memcmp(msg, greeting, len) != 0) {
    fprintf(stderr, "embed: unexpected message (%zu bytes)\n", len);
    t.failed = 1;
  } else {
    t.received = 1;
  }
  finish();
}

static void on_down(yz_link_manager *m, yz_link *link, int err,
                    const char *reason, void *ud)
{
  (void)m;
  (void)link;
  (void)ud;
  if (!t.received) {
    fprintf(stderr, "embed: link down before the message: %s: %s\n",
            yz_err_name(err), reason);
    t.failed = 1;
    finish();
  }
}

int main(void)
{
  uv_loop_t loop;
  yz_identity ida, idb;
  yz_link_config cfg;
  char hex[YZ_NODE_ID_HEX_LEN + 1], url[128];
  uint16_t port = 0;

  if (uv_loop_init(&loop) != 0 || yz_init() != 0 ||
      yz_identity_generate(&ida) != 0 || yz_identity_generate(&idb) != 0) {
    fprintf(stderr, "embed: init failed\n");
    return 1;
  }
  yz_link_config_default(&cfg);
  cfg.cb.on_up = on_up;
  cfg.cb.on_message = on_message;
  cfg.cb.on_down = on_down;
  cfg.identity = &ida;
  t.a_id = yz_identity_node_id(&ida);
  int rc = yz_link_manager_new(&t.a, &loop, &cfg);
  cfg.identity = &idb;
  if (rc == 0)
    rc = yz_link_manager_new(&t.b, &loop, &cfg);
  yz_link_listen_config lc = {.url = "ws://127.0.0.1:0"};
  if (rc == 0)
    rc = yz_link_listen(t.a, &lc, &port);
  yz_node_id_to_hex(yz_identity_node_id(&ida), hex);
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/#%s", (unsigned)port, hex);
  yz_link *link = NULL;
  if (rc == 0)
    rc = yz_link_dial(t.b, url, NULL, NULL, &link);
  if (rc != 0) {
    fprintf(stderr, "embed: setup failed: %s\n", yz_strerror(rc));
    t.failed = 1;
    finish();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  int loop_rc = uv_loop_close(&loop);
  yz_identity_clear(&ida);
  yz_identity_clear(&idb);
  if (t.failed || !t.received || loop_rc != 0) {
    fprintf(stderr, "embed: failed (received %d, uv_loop_close %d)\n",
            t.received, loop_rc);
    return 1;
  }
  printf("embed: ok %s\n", hex);
  return 0;
}
