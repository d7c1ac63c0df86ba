// Package fastrpc is the original FastRpc API, kept so that code written
// against it compiles and behaves unchanged: NewMaster, RegisterRPC,
// Start, NewSlave, CallForBuffer, GetMasterCapabilities, DeInitialize,
// IOOperator and MasterCapabilitiesDTO.
//
// The package is frozen. It gets no new names; new work goes into the
// packages below, which RpcMaster and RpcSlave embed (as net/rpc is frozen
// and points elsewhere).
//
//   - master: the server (master.New, Register, Serve, Shutdown)
//   - slave: the client (slave.New, Call, CallAppend, CallStream); its
//     errors are sentinels usable with errors.Is
//   - typed: calls with Go types over a codec
//   - frame, conn, poolimpl, codec, transport, middleware, module: the
//     wire format, framed connections, pools, codecs and pluggable parts
package fastrpc
