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

// RpcMaster is the server of the original API. It embeds *master.Master,
// so Close, Shutdown, Serve and the rest are there too.
type RpcMaster struct {
	*master.Master
}

// NewMaster returns a master with default limits, serving only the
// built-in capabilities method (ID 0) until methods are registered. The
// error is always nil; it is kept for compatibility.
func NewMaster() (*RpcMaster, error) {
	return &RpcMaster{master.New(master.Config{})}, nil
}

// RegisterRPC registers rpc under name with the description and encodings
// the capabilities method reports. Like http.HandleFunc it panics on a
// programming error: an empty or reserved name, a duplicate, or a name
// whose ID collides with another's. master.Master.Register returns an
// error instead.
func (r *RpcMaster) RegisterRPC(name string, description string, incomingType string, returningType string, rpc func(*IOOperator) error) {
	info := master.MethodInfo{Description: description, IncomingEncoding: incomingType, ReturningEncoding: returningType}
	if err := r.Register(name, info, rpc); err != nil {
		panic(err)
	}
}

// Start listens on ip:port over TCP and serves until ctx is cancelled or
// the master is shut down or closed; then it returns nil. Cancelling ctx
// shuts down gracefully for up to master.Config.ShutdownTimeout. It is
// master.Master.Serve on a TCP listener.
func (r *RpcMaster) Start(ctx context.Context, ip net.IP, port int) error {
	return r.ListenAndServe(ctx, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
}

// RpcSlave is the client of the original API. It embeds *slave.Slave, so
// Call, CallAppend, CallStream and the rest are there too.
type RpcSlave struct {
	*slave.Slave
}

// NewSlave connects to the master at masterIP:masterPort over TCP and fills
// a pool of poolSize connections (0 means the default size). It fails if
// the master cannot be reached or does not speak FastRpc.
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

// GetMasterCapabilities returns the methods the master serves. It has no
// deadline; slave.Slave.Capabilities takes a context.
func (r *RpcSlave) GetMasterCapabilities() ([]MasterCapabilitiesDTO, error) {
	caps, err := r.Capabilities(context.Background())
	return caps.Methods, err
}

// CallForBuffer calls method with buf as the request and returns the
// response. It has no deadline; slave.Slave.Call takes a context. Errors
// match the sentinels of package slave with errors.Is.
func (r *RpcSlave) CallForBuffer(method string, buf []byte) ([]byte, error) {
	return r.CallAppend(context.Background(), method, buf, nil)
}

// DeInitialize closes every connection; later calls fail with
// slave.ErrClosed.
func (r *RpcSlave) DeInitialize() {
	_ = r.Close()
}
