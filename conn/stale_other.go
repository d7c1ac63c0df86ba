//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package conn

import "net"

// prober is a no-op where non-blocking peeks are not available; stale
// connections are then found by the call that uses them.
type prober struct{}

func (p *prober) init(net.Conn) {}

func (p *prober) stale() bool { return false }
