// Package fastrpcetcd finds FastRpc masters through etcd: Registry
// announces a serving master under a service name (a master.Registry,
// module "master.registry.etcd"), and Resolver watches that name for a
// cluster client (a cluster.Resolver, module "resolver.etcd").
//
// It is a module of its own so that programs which do not use etcd do not
// link its client (and the gRPC and OpenTelemetry versions it pins; see
// etcd issue 14866).
//
// # Layout in etcd
//
// A master is one key, <Prefix><Service>/<address>, whose value is JSON:
//
//	/fastrpc/services/orders/10.0.0.5:10000
//	{"address": "10.0.0.5:10000", "zone": "eu-west-1a", "weight": 2, "methods": ["get", "put"]}
//
// The key is bound to a lease of TTL seconds that the master keeps alive,
// so a master that dies without withdrawing (SIGKILL, a lost machine)
// leaves the list when its lease expires. A lease can be lost while the
// master runs: etcd was out of reach for longer than the TTL, or an
// operator revoked it. The Registry then grants a new lease and writes the
// key again as soon as etcd answers, for as long as the master serves;
// losing the lease does not stop the master (rpcx's registry, which
// stopped renewing after one failure, is the trap avoided here). A key
// deleted while its lease lives is written again within a TTL, and a lease
// given up during an outage (etcd restores leases when it restarts) is
// revoked on withdrawal with the current one.
//
// Methods are informational (for operators and tools): a cluster client
// learns each master's methods from the master itself. Zone and weight
// reach the client's balancer through cluster.Endpoint.
//
// # Watching
//
// Resolver lists the prefix and then watches it from the next revision,
// so no change between the two is missed. A watch that ends (its channel
// closes, etcd loses its leader, the watch is cancelled) is started again
// from a fresh list after a short backoff; a watch that falls behind a
// compaction lists afresh too, since the changes in the gap are gone.
// While etcd cannot be reached the last list stays in force: masters
// that really are gone fail their dials and are ejected by the client.
//
// # What it is not
//
// It is not a general etcd wrapper nor an election or configuration
// library. It neither checks masters' health (the cluster client ejects
// masters it cannot reach) nor removes keys other than its own.
//
// The subpackage etcdtest starts a real etcd server inside tests.
package fastrpcetcd
