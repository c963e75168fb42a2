/*
 * The yz command table, as an X-macro: YZ_CMD(name, function, summary).
 * Add a line here and a cmd_<name>.c; the order here is the order of
 * `yz --help`.
 */
YZ_CMD("version", cmd_version_main, "print the version")
YZ_CMD("keygen", cmd_keygen_main, "create a node identity key file")
YZ_CMD("id", cmd_id_main, "print the node ID (or node address) of a key file")
YZ_CMD("vectors", cmd_vectors_main, "replay or generate Noise test vectors")
YZ_CMD("bench", cmd_bench_main, "benchmarks against a baseline in the same run")
YZ_CMD("ping", cmd_ping_main, "dial a node, check its ID, ping over the encrypted link")
YZ_CMD("record", cmd_record_main, "make or check a signed node record")
YZ_CMD("dht", cmd_dht_main, "put, get, find nodes and providers in the DHT")
YZ_CMD("sim", cmd_sim_main, "simulate a DHT or PubSub network of many nodes on virtual time")
YZ_CMD("pub", cmd_pub_main, "publish a message to a PubSub topic")
YZ_CMD("sub", cmd_sub_main, "subscribe to a PubSub topic and print its messages")
YZ_CMD("put", cmd_put_main, "put a value in the DHT (yz dht put; --sealed: end-to-end encrypted)")
YZ_CMD("get", cmd_get_main, "get a value from the DHT (yz dht get; --sealed: open a sealed value)")
YZ_CMD("share", cmd_share_main, "share a sealed value with more users")
YZ_CMD("topic", cmd_topic_main, "create an encrypted topic, add or remove members")
