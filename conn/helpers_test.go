package conn_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/internal/connhooks"
	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a fresh loopback TCP connection; both are
// closed when the test ends.
func tcpPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(tb, err)
	r := <-accepted
	require.NoError(tb, r.err)
	tb.Cleanup(func() {
		_ = nc.Close()
		_ = r.c.Close()
	})
	bound(tb, nc, r.c)
	return nc.(*net.TCPConn), r.c.(*net.TCPConn)
}

// pipePair returns both ends of a net.Pipe, closed when the test ends.
func pipePair(tb testing.TB) (a, b net.Conn) {
	a, b = net.Pipe()
	tb.Cleanup(func() {
		_ = a.Close()
		_ = b.Close()
	})
	bound(tb, a, b)
	return a, b
}

// bound gives a test's connections a deadline, so that a broken
// implementation fails the test instead of hanging it. Benchmarks run as
// long as they need.
func bound(tb testing.TB, conns ...net.Conn) {
	if _, ok := tb.(*testing.T); !ok {
		return
	}
	for _, c := range conns {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	}
}

// fakeAddr is the address of a fakeConn.
type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "fake" }

// fakeConn is a net.Conn with no socket. Writes go to w (io.Discard when
// nil); reads come from r (io.EOF when nil).
type fakeConn struct {
	r io.Reader
	w io.Writer
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, io.EOF
	}
	return f.r.Read(p)
}

func (f *fakeConn) Write(p []byte) (int, error) {
	if f.w == nil {
		return len(p), nil
	}
	return f.w.Write(p)
}

func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// pattern is a deterministic byte stream: byte i is pattern[i%len(pattern)].
// Its length is a prime so chunk boundaries rarely line up with it.
var pattern = func() []byte {
	b := make([]byte, 65521)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// genReader produces n bytes of the pattern, then io.EOF, allocating
// nothing.
type genReader struct {
	off  int
	left int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], pattern[g.off:])
		n += k
		g.off = (g.off + k) % len(pattern)
	}
	g.left -= int64(n)
	return n, nil
}

// patternChecker accepts bytes and checks they continue the pattern.
type patternChecker struct {
	off int
	n   int64
	bad int64 // offset of the first mismatch, -1 when none
}

func newPatternChecker() *patternChecker { return &patternChecker{bad: -1} }

func (pc *patternChecker) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		k := min(len(p)-done, len(pattern)-pc.off)
		if pc.bad < 0 && !bytes.Equal(p[done:done+k], pattern[pc.off:pc.off+k]) {
			pc.bad = pc.n + int64(done)
		}
		done += k
		pc.off = (pc.off + k) % len(pattern)
	}
	pc.n += int64(len(p))
	return len(p), nil
}

// maxLenReader records the largest buffer it was asked to fill.
type maxLenReader struct {
	r   io.Reader
	max int
}

func (m *maxLenReader) Read(p []byte) (int, error) {
	m.max = max(m.max, len(p))
	return m.r.Read(p)
}

// failingWriter accepts limit bytes, then fails with err.
type failingWriter struct {
	limit int
	n     int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	k := min(len(p), f.limit-f.n)
	f.n += k
	if k < len(p) {
		return k, f.err
	}
	return k, nil
}

// shortWriter accepts at most one byte per call and reports no error.
type shortWriter struct{ n int }

func (s *shortWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.n++
	return 1, nil
}

var errBoom = errors.New("boom")

// hooks are the operations conn keeps out of its API for master and slave.
var hooks = connhooks.Of[*conn.Conn]()
