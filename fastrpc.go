package fastrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// IOOperator is a handler's view of one call; see master.IOOperator.
type IOOperator = master.IOOperator

// MasterCapabilitiesDTO describes one method a master serves.
type MasterCapabilitiesDTO = frame.Capability

// RemoteError is a call the master answered with an error; see
// slave.RemoteError.
type RemoteError = slave.RemoteError

// Errors a call can return, usable with errors.Is: the same values as
// package slave's, where each is described.
var (
	// ErrApplication: the handler returned an error; see
	// slave.ErrApplication.
	ErrApplication = slave.ErrApplication
	// ErrUnknownMethod: the master has no such method; see
	// slave.ErrUnknownMethod.
	ErrUnknownMethod = slave.ErrUnknownMethod
	// ErrRequestTooLarge: over the master's or the slave's limit; see
	// slave.ErrRequestTooLarge.
	ErrRequestTooLarge = slave.ErrRequestTooLarge
	// ErrHandlerPanic: the handler panicked; see slave.ErrHandlerPanic.
	ErrHandlerPanic = slave.ErrHandlerPanic
	// ErrPermissionDenied: the master's authorization refused the call,
	// which was not processed; see slave.ErrPermissionDenied.
	ErrPermissionDenied = slave.ErrPermissionDenied
	// ErrShuttingDown: the master is stopping and did not process the
	// request; see slave.ErrShuttingDown.
	ErrShuttingDown = slave.ErrShuttingDown
	// ErrOverloaded: the master refused a new connection at its limit; see
	// slave.ErrOverloaded.
	ErrOverloaded = slave.ErrOverloaded
	// ErrResponseTooLarge: over the slave's MaxResponseSize; see
	// slave.ErrResponseTooLarge.
	ErrResponseTooLarge = slave.ErrResponseTooLarge
	// ErrUnavailable: the request never reached a handler and is safe to
	// send again; see slave.ErrUnavailable.
	ErrUnavailable = slave.ErrUnavailable
	// ErrDialBackoff: the slave did not dial, backing off after a failed
	// dial; see slave.ErrDialBackoff.
	ErrDialBackoff = slave.ErrDialBackoff
	// ErrConnection: the connection failed during the call, which the
	// master may have run; see slave.ErrConnection.
	ErrConnection = slave.ErrConnection
	// ErrProtocol: the master does not speak this protocol; see
	// slave.ErrProtocol.
	ErrProtocol = slave.ErrProtocol
	// ErrClosed: the slave was closed; see slave.ErrClosed.
	ErrClosed = slave.ErrClosed
)

// RpcMaster is the server. It has every method of *master.Master (Serve,
// Shutdown, Addr, ...) besides RegisterRPC.
type RpcMaster struct {
	*master.Master
}

// NewMaster returns a master with default limits, serving only the
// built-in capabilities method (ID 0) until methods are registered. The
// error is always nil; it is kept for compatibility.
func NewMaster() (*RpcMaster, error) {
	return &RpcMaster{master.New(master.Config{})}, nil
}

// NewMasterWithConfig returns a master tuned by cfg.
func NewMasterWithConfig(cfg master.Config) *RpcMaster {
	return &RpcMaster{master.New(cfg)}
}

// RegisterRPC registers rpc under name with the description and encodings
// the capabilities method reports. Like http.HandleFunc it panics on a
// programming error: an empty or reserved name, a duplicate, or a name
// whose ID collides with another's. Use Register to get an error instead.
func (r *RpcMaster) RegisterRPC(name string, description string, incomingType string, returningType string, rpc func(*IOOperator) error) {
	info := master.Info{Description: description, IncomingEncoding: incomingType, ReturningEncoding: returningType}
	if err := r.Register(name, info, rpc); err != nil {
		panic(err)
	}
}

// RpcSlave is the client. It has every method of *slave.Slave (Call,
// CallAppend, CallStream, ...) besides DeInitialize.
type RpcSlave struct {
	*slave.Slave
}

// NewSlave connects to the master at masterIP:masterPort over TCP and fills
// a pool of poolSize connections (0 means slave.DefaultPoolSize). It fails
// if the master cannot be reached or does not speak FastRpc.
func NewSlave(masterIP net.IP, masterPort int, poolSize int) (*RpcSlave, error) {
	if masterIP == nil {
		return nil, errors.New("fastrpc: NewSlave: masterIP is nil")
	}
	if masterPort <= 0 || masterPort > 65535 {
		return nil, fmt.Errorf("fastrpc: NewSlave: port %d is out of range", masterPort)
	}
	s, err := slave.Dial(context.Background(), slave.Config{
		Address:  net.JoinHostPort(masterIP.String(), strconv.Itoa(masterPort)),
		PoolSize: max(poolSize, 0),
	})
	if err != nil {
		return nil, err
	}
	return &RpcSlave{s}, nil
}

// DeInitialize closes every connection; later calls fail with ErrClosed.
func (r *RpcSlave) DeInitialize() {
	_ = r.Close()
}
