//go:build linux

package conn

import (
	"syscall"
	"unsafe"
)

// unsent returns the bytes in the socket's send queue (SIOCOUTQ): written,
// and not yet acknowledged by the peer.
func (p *prober) unsent() (int, bool) {
	if p.raw == nil {
		return 0, false
	}
	var n int32
	var errno syscall.Errno
	if err := p.raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}
