package master_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// hangGuard bounds waits that only exist to keep a broken test from hanging.
const hangGuard = testserve.HangGuard

// register adds methods to m.
func register(t testing.TB, m *master.Master, methods map[string]master.Handler) {
	t.Helper()
	for name, h := range methods {
		require.NoError(t, m.Register(name, master.MethodInfo{Description: name}, h))
	}
}

// serveOn serves m on address (a free port when it ends in ":0") and
// returns the address it listens on and a channel that receives what Serve
// returns. The master is closed when the test ends.
func serveOn(t testing.TB, m *master.Master, address string) (string, <-chan error) {
	t.Helper()
	addr, done := testserve.Start(t, m, address)
	return addr.String(), done
}

// serveMaster returns a master serving methods on a free loopback port,
// and that port's address.
func serveMaster(t testing.TB, cfg master.Config, methods map[string]master.Handler) (*master.Master, string) {
	t.Helper()
	m := master.New(cfg)
	register(t, m, methods)
	return m, testserve.Serve(t, m).String()
}

// dialSlave returns a warmed slave for address, closed when the test ends.
func dialSlave(t testing.TB, address string, cfg slave.Config) *slave.Slave {
	t.Helper()
	cfg.Address = address
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := slave.Dial(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func echo(op *master.IOOperator) error {
	b, err := op.ReadAll()
	if err != nil {
		return err
	}
	return op.WriteIOFromBuffer(b)
}

// requireServes checks that an honest slave gets served by the master at
// addr.
func requireServes(t testing.TB, addr string) {
	t.Helper()
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	resp, err := s.Call(callCtx(t), "echo", []byte("honest"))
	require.NoError(t, err)
	require.Equal(t, "honest", string(resp))
}

// rawDial opens a plain TCP connection to the master at addr; every read
// and write on it is bounded by hangGuard.
func rawDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, nc.SetDeadline(time.Now().Add(hangGuard)))
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

func readPreface(t testing.TB, nc net.Conn) frame.Preface {
	t.Helper()
	var b [frame.PrefaceSize]byte
	_, err := io.ReadFull(nc, b[:])
	require.NoError(t, err, "reading the master's preface")
	p, err := frame.ParsePreface(b[:])
	require.NoError(t, err)
	return p
}

func writePreface(t testing.TB, nc net.Conn, p frame.Preface) {
	t.Helper()
	var b [frame.PrefaceSize]byte
	frame.PutPreface(b[:], p)
	_, err := nc.Write(b[:])
	require.NoError(t, err)
}

// rawHandshake opens a raw connection and completes the handshake.
func rawHandshake(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc := rawDial(t, addr)
	writePreface(t, nc, frame.Preface{Version: frame.Version1})
	p := readPreface(t, nc)
	require.Equal(t, frame.HandshakeOK, p.Status)
	return nc
}

func writeRequestHeader(t testing.TB, nc net.Conn, h frame.RequestHeader) {
	t.Helper()
	var b [frame.RequestHeaderSize]byte
	frame.PutRequestHeader(b[:], h)
	_, err := nc.Write(b[:])
	require.NoError(t, err)
}

func readResponse(t testing.TB, nc net.Conn) (frame.ResponseHeader, []byte) {
	t.Helper()
	var b [frame.ResponseHeaderSize]byte
	_, err := io.ReadFull(nc, b[:])
	require.NoError(t, err, "reading a response header")
	h, err := frame.ParseResponseHeader(b[:])
	require.NoError(t, err)
	require.LessOrEqual(t, h.Length, uint64(1<<20), "unexpectedly long response")
	body := make([]byte, h.Length)
	_, err = io.ReadFull(nc, body)
	require.NoError(t, err, "reading a response body")
	return h, body
}

// requireEOF reads nc until the master closes it, which must happen cleanly
// (EOF, not a reset) within a few seconds.
func requireEOF(t testing.TB, nc net.Conn) []byte {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	rest, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the master did not close the connection (read %d bytes)", len(rest))
	}
	require.NoError(t, err, "expected a clean EOF")
	return rest
}

// failingListener's Accept fails at once with a permanent error.
type failingListener struct{}

var errFakeAccept = errors.New("failingListener: no connections here")

func (failingListener) Accept() (net.Conn, error) { return nil, errFakeAccept }
func (failingListener) Close() error              { return nil }
func (failingListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// shutdownBegun reports whether m has started to shut down, without
// disturbing it. Serve decides under the lock that Shutdown holds while it
// closes listeners and wakes idle connections, so when this returns true
// that work is done. On a running master Serve returns the listener's
// error at once.
func shutdownBegun(m *master.Master) bool {
	err := m.Serve(context.Background(), failingListener{})
	if err != nil && !errors.Is(err, master.ErrClosed) && !errors.Is(err, errFakeAccept) {
		panic(err)
	}
	return err == nil || errors.Is(err, master.ErrClosed)
}
