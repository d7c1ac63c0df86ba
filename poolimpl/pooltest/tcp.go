package pooltest

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// tcpPeer is a loopback listener standing in for a master: it echoes
// whatever it reads, and the test can close (or write on) the server end
// of any connection, as a restarting master would.
type tcpPeer struct {
	t     *testing.T
	ln    net.Listener
	dials atomic.Int64

	mu      sync.Mutex
	servers map[string]net.Conn // by the client's local address
	clients map[poolimpl.Conn]*trackedTCP
	wg      sync.WaitGroup
}

// trackedTCP is the client end. Embedding *net.TCPConn keeps SyscallConn,
// so conn.Conn.Stale can see the socket.
type trackedTCP struct {
	*net.TCPConn
	closed atomic.Bool
}

func (c *trackedTCP) Close() error {
	c.closed.Store(true)
	return c.TCPConn.Close()
}

func newTCPPeer(t *testing.T) *tcpPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	requireNoError(t, err, "listening on loopback")
	s := &tcpPeer{t: t, ln: ln, servers: map[string]net.Conn{}, clients: map[poolimpl.Conn]*trackedTCP{}}
	spawn(&s.wg, func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.servers[nc.RemoteAddr().String()] = nc
			s.mu.Unlock()
			spawn(&s.wg, func() { _, _ = io.Copy(nc, nc) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, nc := range s.servers {
			_ = nc.Close()
		}
		for _, c := range s.clients {
			_ = c.TCPConn.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// dial is a poolimpl.DialFunc to the peer. It does no FastRpc handshake: a
// pool neither knows nor cares.
func (s *tcpPeer) dial(ctx context.Context) (poolimpl.Conn, error) {
	s.dials.Add(1)
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	tc := &trackedTCP{TCPConn: nc.(*net.TCPConn)}
	c := conn.New(tc, conn.Config{ReadBufferSize: 256, WriteBufferSize: 256})
	s.mu.Lock()
	s.clients[c] = tc
	s.mu.Unlock()
	return c, nil
}

// server returns the server end of c, waiting for the accept.
func (s *tcpPeer) server(c poolimpl.Conn) net.Conn {
	s.t.Helper()
	key := s.netConn(c).LocalAddr().String()
	var nc net.Conn
	require(s.t, eventually(func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		nc = s.servers[key]
		return nc != nil
	}, time.Millisecond), "the peer never accepted %s", key)
	return nc
}

// netConn returns c's socket, failing the test if the peer did not dial c.
func (s *tcpPeer) netConn(c poolimpl.Conn) net.Conn {
	s.t.Helper()
	s.mu.Lock()
	tc := s.clients[c]
	s.mu.Unlock()
	if tc == nil {
		s.t.Fatalf("connection %v (%T) was not dialled by the pool's DialFunc", c, c)
	}
	return tc
}

// closeServer closes c's server end, as a master that closes an idle
// connection or restarts does, and waits until c's socket shows it. The
// wait probes through a second conn.Conn on the same socket, so it shares
// no state with the pool's c.
func (s *tcpPeer) closeServer(c poolimpl.Conn) {
	s.t.Helper()
	requireNoError(s.t, s.server(c).Close(), "closing the server end")
	s.waitStale(c)
}

// waitStale waits until c's socket shows something pending (EOF or data).
func (s *tcpPeer) waitStale(c poolimpl.Conn) {
	s.t.Helper()
	probe := conn.New(s.netConn(c), conn.Config{ReadBufferSize: 64, WriteBufferSize: 64})
	require(s.t, eventually(probe.Stale, time.Millisecond), "the close never reached the client")
}

// closedByPool reports whether the pool closed c's socket.
func (s *tcpPeer) closedByPool(c poolimpl.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	tc := s.clients[c]
	return tc != nil && tc.closed.Load()
}

// echo sends msg on c, a *conn.Conn, and reads it back.
func echo(pc poolimpl.Conn, msg string) (string, error) {
	c, ok := pc.(*conn.Conn)
	if !ok {
		return "", fmt.Errorf("the pool handed out a %T, not the *conn.Conn the DialFunc returned", pc)
	}
	if err := c.SetDeadline(time.Now().Add(prompt)); err != nil {
		return "", err
	}
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.WriteString(msg); err != nil {
		return "", err
	}
	if err := c.Flush(); err != nil {
		return "", err
	}
	got := make([]byte, len(msg))
	if err := c.ReadFull(got); err != nil {
		return "", err
	}
	return string(got), nil
}
