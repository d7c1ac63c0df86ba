package transport

import (
	"context"
	"fmt"
	"net"

	"github.com/AmanTrance/FastRpc/module"
)

// TCPDialer is the "dialer.tcp" module: plain TCP. The zero value is ready
// to use, as a struct literal or from JSON:
//
//	{"module": "tcp", "timeout": "3s", "keep_alive": "30s", "local_address": "10.0.0.5"}
type TCPDialer struct {
	// Timeout bounds connecting. 0 leaves the bound to the caller's
	// context (the slave's DialTimeout).
	Timeout module.Duration `json:"timeout,omitempty"`
	// KeepAlive is the TCP keep-alive period. 0 means conn.DefaultKeepAlive; a
	// negative value turns keep-alive probes off.
	KeepAlive module.Duration `json:"keep_alive,omitempty"`
	// LocalAddress is the local IP to dial from, optionally with a port:
	// "10.0.0.5" or "10.0.0.5:0". Empty lets the system choose.
	LocalAddress string `json:"local_address,omitempty"`
}

// FastRpcModule implements module.Module.
func (*TCPDialer) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceDialer + ".tcp", New: func() module.Module { return new(TCPDialer) }}
}

// Validate implements module.Validator.
func (d *TCPDialer) Validate() error {
	_, err := netDialer(d.Timeout, d.KeepAlive, d.LocalAddress)
	return err
}

// DialContext implements conn.Dialer. network is "tcp" (or empty),
// "tcp4" or "tcp6".
func (d *TCPDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	network, err := checkTCPNetwork("dialer.tcp", network)
	if err != nil {
		return nil, err
	}
	nd, err := netDialer(d.Timeout, d.KeepAlive, d.LocalAddress)
	if err != nil {
		return nil, fmt.Errorf("dialer.tcp: %w", err)
	}
	return nd.DialContext(ctx, network, address)
}

// TCPListener is the "listener.tcp" module: plain TCP.
//
//	{"module": "tcp", "address": "127.0.0.1:10000"}
type TCPListener struct {
	// Address is the host:port to listen on; port 0 picks a free port
	// (master.Master.Addrs tells which).
	Address string `json:"address"`
}

// FastRpcModule implements module.Module.
func (*TCPListener) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceListener + ".tcp", New: func() module.Module { return new(TCPListener) }}
}

// Validate implements module.Validator.
func (l *TCPListener) Validate() error { return checkAddress(l.Address) }

// Listen implements Listener.
func (l *TCPListener) Listen(ctx context.Context) (net.Listener, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("listener.tcp: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", l.Address)
	if err != nil {
		return nil, fmt.Errorf("listener.tcp: %w", err)
	}
	return ln, nil
}
