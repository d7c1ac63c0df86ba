package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
)

func init() {
	module.Register(new(TCPDialer))
	module.Register(new(UnixDialer))
	module.Register(new(TLSDialer))
	module.Register(new(TCPListener))
	module.Register(new(UnixListener))
	module.Register(new(TLSListener))
}

// Interfaces each module implements, checked at compile time.
var (
	_ conn.Dialer   = (*TCPDialer)(nil)
	_ conn.Dialer   = (*UnixDialer)(nil)
	_ conn.Dialer   = (*TLSDialer)(nil)
	_ conn.Listener = (*TCPListener)(nil)
	_ conn.Listener = (*UnixListener)(nil)
	_ conn.Listener = (*TLSListener)(nil)

	_ module.Validator    = (*TCPDialer)(nil)
	_ module.Validator    = (*UnixDialer)(nil)
	_ module.Provisioner  = (*TLSDialer)(nil)
	_ module.Validator    = (*TLSDialer)(nil)
	_ module.Validator    = (*TCPListener)(nil)
	_ module.Validator    = (*UnixListener)(nil)
	_ module.CleanerUpper = (*UnixListener)(nil)
	_ module.Provisioner  = (*TLSListener)(nil)
	_ module.Validator    = (*TLSListener)(nil)
)

// netDialer returns the net.Dialer shared by the TCP and TLS dialers.
func netDialer(timeout, keepAlive module.Duration, local string) (*net.Dialer, error) {
	if timeout < 0 {
		return nil, errors.New("timeout: must not be negative (0 leaves the bound to the caller's context)")
	}
	nd := &net.Dialer{Timeout: timeout.D(), KeepAlive: keepAlive.D()}
	if keepAlive == 0 {
		nd.KeepAlive = conn.DefaultKeepAlive
	}
	if local != "" {
		a, err := localAddr(local)
		if err != nil {
			return nil, err
		}
		nd.LocalAddr = a
	}
	return nd, nil
}

// localAddr parses an IP literal, optionally with a port.
func localAddr(s string) (*net.TCPAddr, error) {
	bad := fmt.Errorf("local_address %q: want an IP address such as \"10.0.0.5\", optionally with a port (\"10.0.0.5:0\")", s)
	if ip := net.ParseIP(s); ip != nil {
		return &net.TCPAddr{IP: ip}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, bad
	}
	return net.TCPAddrFromAddrPort(ap), nil
}

// checkTCPNetwork refuses networks a TCP dialer cannot dial.
func checkTCPNetwork(id, network string) (string, error) {
	switch network {
	case "":
		return "tcp", nil
	case "tcp", "tcp4", "tcp6":
		return network, nil
	}
	return "", fmt.Errorf("%s: cannot dial network %q (use \"tcp\"; for unix sockets use dialer.unix)", id, network)
}

// checkAddress validates a host:port listen address.
func checkAddress(addr string) error {
	if addr == "" {
		return errors.New(`address is required: host:port, such as "127.0.0.1:10000" (port 0 picks a free port)`)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("address %q: want host:port, such as \"127.0.0.1:10000\": %w", addr, err)
	}
	return nil
}
