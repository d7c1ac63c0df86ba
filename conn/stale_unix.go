//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package conn

import (
	"net"
	"syscall"
)

// prober peeks at a socket without blocking and without consuming data.
type prober struct {
	raw syscall.RawConn
	fn  func(fd uintptr) // bound once so probing allocates nothing
	buf [1]byte
	n   int
	err error
}

func (p *prober) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.fn = p.peek
}

func (p *prober) peek(fd uintptr) {
	p.n, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

func (p *prober) stale() bool {
	if p.raw == nil {
		return false
	}
	// Control, not Read: RawConn.Read fails without calling fn once the
	// read deadline has passed, and a deadline left over from an earlier
	// call says nothing about the connection. The peek never waits.
	if err := p.raw.Control(p.fn); err != nil {
		return true // closed locally
	}
	switch {
	case p.err == syscall.EAGAIN || p.err == syscall.EWOULDBLOCK:
		return false // open, nothing pending: healthy
	case p.err == syscall.EINTR:
		return false
	case p.err != nil:
		return true // reset, or another socket error
	default:
		return true // p.n == 0 is EOF; p.n > 0 is unsolicited data
	}
}
