// Package fastrpc is the entry point of FastRpc, a lightweight TCP binary
// RPC framework: a master (server) registers handlers by name and a slave
// (client) calls them over a pool of persistent connections.
//
// This package is a thin facade that keeps code written against the
// original FastRpc API compiling unchanged: NewMaster, RegisterRPC, Start,
// NewSlave, CallForBuffer, GetMasterCapabilities, DeInitialize and
// IOOperator. Every method of the master and slave packages is available
// on RpcMaster and RpcSlave too.
//
// It is not where the work happens: the wire format is package frame,
// framed connections package conn, the server package master, the client
// package slave, and connection pools package poolimpl. Use those directly
// for configuration beyond the defaults.
package fastrpc
