/*
 * yz/yz.h: the whole public API of libyz in one include.
 *
 * Layers, lowest first (docs/architecture.md): common, noise, identity and
 * addresses, wire, session, link, node. Embedders of a node usually need
 * only yz/node.h; implementers of another transport, yz/session.h.
 */
#ifndef YZ_YZ_H
#define YZ_YZ_H

#include "yz/common.h"
#include "yz/log.h"
#include "yz/noise.h"
#include "yz/identity.h"
#include "yz/address.h"
#include "yz/wire.h"
#include "yz/dht_wire.h"
#include "yz/record.h"
#include "yz/dhtrec.h"
#include "yz/pubsub_wire.h"
#include "yz/session.h"
#include "yz/link.h"
#include "yz/node.h"
#include "yz/dht.h"
#include "yz/pubsub.h"
#include "yz/seal.h"

#endif /* YZ_YZ_H */
