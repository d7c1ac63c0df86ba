// Package cluster calls many masters as one: a Resolver finds them (the
// "resolver" module namespace: Static and DNS here, etcd in module
// fastrpcetcd, whose Registry also announces masters), a
// Balancer spreads calls over them (the "balancer" namespace: RoundRobin,
// LeastLoaded, ConsistentHash), and a Client keeps one slave per master,
// leaves out for a while a master whose dials or connections fail, and
// tries a call that never reached a handler on another master, within the
// call's context and a retry budget. A call that may have reached a handler
// is never sent again unless its method is idempotent (Config.Idempotent,
// or a context from Idempotent).
//
// A Client has the calls of a slave (Call, CallAppend, CallStream,
// Capabilities), so typed calls work through it unchanged. Each master's
// capabilities are fetched once and cached: a method a master does not
// list is routed to the others (a rolling deploy), and an "unknown
// method" answer makes the client look again.
//
// It is not a proxy and has no server side: masters are plain masters.
package cluster
