/*
 * The areas of `yz bench`, as an X-macro:
 * YZ_BENCH_AREA(name, function, summary). An area is one file
 * bench_<name>.c defining the function (see bench.h), one line here, and
 * one line in tools/yz/meson.build (`yz_cmd_src += files('bench_<name>.c')`
 * with the layer's dependency); its figures go in docs/benchmarks.md. The
 * order here is the order of `yz bench --help` and of `yz bench all`.
 */
YZ_BENCH_AREA("noise", yz_bench_noise,
              "X25519, XX handshakes and transport vs raw libsodium")
YZ_BENCH_AREA("session", yz_bench_session,
              "yz handshakes and session throughput vs raw libsodium")
YZ_BENCH_AREA("link", yz_bench_link,
              "yz links over loopback vs plain WebSocket (lws)")
YZ_BENCH_AREA("dht", yz_bench_dht,
              "DHT record signing vs Ed25519; put/get vs ping over processes")
YZ_BENCH_AREA("seal", yz_bench_seal,
              "sealing vs raw XChaCha20-Poly1305; sealed vs plain put/get")
YZ_BENCH_AREA("pubsub", yz_bench_pubsub,
              "PubSub validation vs Ed25519; publish-to-delivery vs ping")
