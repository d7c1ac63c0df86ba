// Package clustertest holds integration tests of the cluster package's
// discovery against real servers: the dns resolver against a DNS server
// (github.com/miekg/dns) on loopback, with real masters behind the names,
// and a churn test over etcd and DNS in which masters in child processes
// are killed with SIGKILL, added, and drained while a client calls.
// It is a module of its own so that those servers' dependencies stay out
// of the core module's graph (etcd's come through fastrpcetcd): programs
// that use FastRpc never download them. It has no code for programs, only
// tests.
package clustertest
