package master_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// 18. Register refuses duplicates, empty and reserved names, and nil
// handlers.
func TestRegisterValidation(t *testing.T) {
	m := master.New(master.Config{})
	t.Cleanup(func() { _ = m.Close() })
	require.NoError(t, m.Register("echo", master.MethodInfo{}, echo))

	err := m.Register("echo", master.MethodInfo{}, echo)
	require.ErrorIs(t, err, master.ErrDuplicate)
	require.ErrorIs(t, m.Register("", master.MethodInfo{}, echo), master.ErrInvalidName)
	require.ErrorIs(t, m.Register(frame.CapabilitiesName, master.MethodInfo{}, echo), master.ErrInvalidName)
	require.ErrorIs(t, m.Register("nilhandler", master.MethodInfo{}, nil), master.ErrInvalidName)
	require.ErrorIs(t, m.Register(strings.Repeat("x", frame.MaxStringLen+1), master.MethodInfo{}, echo), master.ErrInvalidName)
	require.NoError(t, m.Register(strings.Repeat("x", frame.MaxStringLen), master.MethodInfo{}, echo))

	names := []string{}
	for _, c := range m.Capabilities() {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{frame.CapabilitiesName, "echo", strings.Repeat("x", frame.MaxStringLen)}, names,
		"refused registrations must leave no trace")
}

// 18. The capabilities method lists itself and every method, with its
// description and encodings, including methods registered while serving.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{Description: "returns its request", IncomingEncoding: "bytes", ReturningEncoding: "bytes"}, echo))
	require.NoError(t, m.Register("sum", master.MethodInfo{Description: "adds numbers", IncomingEncoding: "application/json", ReturningEncoding: "text/plain"}, echo))
	addr, done := serveOn(t, m, "127.0.0.1:0")
	t.Cleanup(func() { _ = m.Close(); <-done })
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	all, err := s.Capabilities(callCtx(t))
	require.NoError(t, err)
	caps := all.Methods
	byName := map[string]frame.Capability{}
	for _, c := range caps {
		byName[c.Name] = c
	}
	require.Len(t, caps, 3)
	require.Equal(t, frame.CapabilitiesEncodingV2, byName[frame.CapabilitiesName].ReturningEncoding, "a version 2 connection")
	require.Equal(t, []string{"version.1", "version.2", "metadata", "cancel"}, all.Features)
	require.NotEmpty(t, byName[frame.CapabilitiesName].Description)
	require.Equal(t, frame.Capability{Name: "echo", Description: "returns its request", IncomingEncoding: "bytes", ReturningEncoding: "bytes"}, byName["echo"])
	require.Equal(t, frame.Capability{Name: "sum", Description: "adds numbers", IncomingEncoding: "application/json", ReturningEncoding: "text/plain"}, byName["sum"])
	require.Equal(t, m.Capabilities()[1:], caps[1:])
	require.Equal(t, frame.CapabilitiesEncoding, m.Capabilities()[0].ReturningEncoding, "what version 1 slaves see")

	require.NoError(t, m.Register("late", master.MethodInfo{Description: "registered while serving", IncomingEncoding: "a", ReturningEncoding: "b"}, echo))
	all, err = s.Capabilities(callCtx(t))
	require.NoError(t, err)
	caps = all.Methods
	require.Len(t, caps, 4)
	require.Equal(t, frame.Capability{Name: "late", Description: "registered while serving", IncomingEncoding: "a", ReturningEncoding: "b"}, caps[3])
	resp, err := s.Call(callCtx(t), "late", []byte("works"))
	require.NoError(t, err)
	require.Equal(t, "works", string(resp))
}

// 18. Method IDs depend only on names: two masters that register in
// different orders answer the same IDs with the same methods.
func TestMethodIDsIndependentOfOrder(t *testing.T) {
	t.Parallel()
	names := []string{"alpha", "beta", "gamma", "delta"}
	named := func(name string) master.Handler {
		return func(op *master.IOOperator) error { return op.WriteIOFromBuffer([]byte(name)) }
	}
	var addrs []string
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 1, 0, 2}} {
		m := master.New(master.Config{})
		for _, i := range order {
			require.NoError(t, m.Register(names[i], master.MethodInfo{}, named(names[i])))
		}
		addr, done := serveOn(t, m, "127.0.0.1:0")
		t.Cleanup(func() { _ = m.Close(); <-done })
		addrs = append(addrs, addr)
	}
	for _, addr := range addrs {
		s := dialSlave(t, addr, slave.Config{PoolSize: 1})
		nc := rawHandshake(t, addr)
		for _, name := range names {
			resp, err := s.Call(callCtx(t), name, nil)
			require.NoError(t, err)
			require.Equal(t, name, string(resp))

			// The same, by ID on the wire.
			writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID(name)})
			h, body := readResponse(t, nc)
			require.Equal(t, frame.StatusOK, h.Status)
			require.Equal(t, name, string(body))
		}
	}
}

// 10. Serve returns nil once its context is cancelled, and closes its
// listener.
func TestServeReturnsNilWhenContextCancelled(t *testing.T) {
	m := master.New(master.Config{})
	register(t, m, map[string]master.Handler{"echo": echo})
	t.Cleanup(func() { _ = m.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(ctx, ln) }()
	requireServes(t, addr)

	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "still listening")
	require.ErrorIs(t, m.ListenAndServe(context.Background(), addr), master.ErrClosed)
}

// 10. Serve returns nil after Shutdown; Serve and ListenAndServe refuse to
// start on a master that was shut down or closed.
func TestServeReturnsNilAfterShutdown(t *testing.T) {
	m := master.New(master.Config{})
	register(t, m, map[string]master.Handler{"echo": echo})
	t.Cleanup(func() { _ = m.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(context.Background(), ln) }()
	requireServes(t, ln.Addr().String())

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after Shutdown")
	}

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, m.Serve(context.Background(), ln), master.ErrClosed)
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed, "Serve must close the listener it refuses")
}

func TestServeOnClosedMaster(t *testing.T) {
	m := master.New(master.Config{})
	require.NoError(t, m.Close())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, m.Serve(context.Background(), ln), master.ErrClosed)
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, m.ListenAndServe(context.Background(), "127.0.0.1:0"), master.ErrClosed)
}

// 12. A client that does not speak FastRpc gets a version 1 preface (so
// it can tell what it reached) and then a closed connection; the master
// keeps serving.
func TestProtocolMismatchWrongMagic(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"echo": echo})
	nc := rawDial(t, addr)
	_, err := nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	require.NoError(t, err)
	p := readPreface(t, nc)
	require.Equal(t, frame.Version1, p.Version)
	rest := requireEOF(t, nc)
	require.Empty(t, rest, "the master answered garbage with more than its preface")
	requireServes(t, addr)
}

// A slave preface must state version 1 (slaves offer more in the status
// field): any other version field is another protocol.
func TestProtocolMismatchVersion(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"echo": echo})
	for _, v := range []uint16{0, 2, 3} {
		nc := rawDial(t, addr)
		writePreface(t, nc, frame.Preface{Version: v})
		require.Equal(t, frame.Version1, readPreface(t, nc).Version)
		rest := requireEOF(t, nc)
		require.Empty(t, rest, "version %d", v)
	}
	requireServes(t, addr)
}

// 13. A header that claims an absurd length is answered with
// StatusRequestTooLarge and the connection is closed, without the master
// trying to read or allocate it.
func TestOversizeRequestHeader(t *testing.T) {
	t.Parallel()
	var called atomic.Int32
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": echo,
		"count": func(op *master.IOOperator) error {
			called.Add(1)
			return nil
		},
	})
	for _, method := range []string{"count", "nosuchmethod", frame.CapabilitiesName} {
		nc := rawHandshake(t, addr)
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID(method), Length: 1 << 63})
		h, msg := readResponse(t, nc)
		require.Equal(t, frame.StatusRequestTooLarge, h.Status, method)
		require.NotEmpty(t, msg)
		require.LessOrEqual(t, len(msg), frame.MaxErrorMessage)
		requireEOF(t, nc)
	}
	require.Zero(t, called.Load(), "a handler ran for a refused request")
	requireServes(t, addr)
}

// 21. A client that starts a header and stalls is cut off after
// HeaderTimeout, while honest slaves are served meanwhile.
func TestHeaderTimeoutSlowDrip(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{HeaderTimeout: 300 * time.Millisecond}, map[string]master.Handler{"echo": echo})

	// Stalls inside a request header.
	drip := rawHandshake(t, addr)
	_, err := drip.Write([]byte{0x42})
	require.NoError(t, err)
	// Stalls inside its preface.
	half := rawDial(t, addr)
	_, err = half.Write([]byte("FRP"))
	require.NoError(t, err)

	requireServes(t, addr)

	requireEOF(t, drip)
	rest := requireEOF(t, half)
	require.Empty(t, rest, "no preface for half of one")
	requireServes(t, addr)
}

// 19. Beyond MaxConnections new connections are refused with a preface
// saying so; a freed slot is usable again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{MaxConnections: 2}, map[string]master.Handler{"echo": echo})
	full := dialSlave(t, addr, slave.Config{PoolSize: 2})
	require.Equal(t, 2, full.PoolStats().Open)

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err := slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
	require.ErrorIs(t, err, slave.ErrOverloaded)

	// At the raw level: the refusal is a preface with HandshakeOverloaded.
	nc := rawDial(t, addr)
	writePreface(t, nc, frame.Preface{Version: frame.Version1})
	require.Equal(t, frame.HandshakeOverloaded, readPreface(t, nc).Status)
	requireEOF(t, nc)

	// The connections in use keep working.
	resp, err := full.Call(callCtx(t), "echo", []byte("in"))
	require.NoError(t, err)
	require.Equal(t, "in", string(resp))

	require.NoError(t, full.Close())
	require.Eventually(t, func() bool {
		s, err := slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
		if err != nil {
			return false
		}
		_ = s.Close()
		return true
	}, hangGuard, 20*time.Millisecond, "a slot was not freed by closing a slave")
}

// 20. Connections idle past IdleTimeout are closed by the master; the slave
// notices and dials a fresh one without failing a call.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{IdleTimeout: 200 * time.Millisecond}, map[string]master.Handler{"echo": echo})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	resp, err := s.Call(callCtx(t), "echo", []byte("one"))
	require.NoError(t, err)
	require.Equal(t, "one", string(resp))
	dials := s.PoolStats().Dials

	time.Sleep(600 * time.Millisecond)

	resp, err = s.Call(callCtx(t), "echo", []byte("two"))
	require.NoError(t, err, "a connection closed while idle failed the call")
	require.Equal(t, "two", string(resp))
	require.Greater(t, s.PoolStats().Dials, dials, "the idle connection was reused")
}

// 11. A slave outlives its master: after the master is closed and another
// one listens on the same port, the next calls succeed.
func TestMasterRestartOnSamePort(t *testing.T) {
	methods := map[string]master.Handler{"echo": echo}

	m1 := master.New(master.Config{})
	register(t, m1, methods)
	addr, done1 := serveOn(t, m1, "127.0.0.1:0")
	s := dialSlave(t, addr, slave.Config{PoolSize: 2})
	concurrentCalls(t, s, 2, "first")
	require.Equal(t, 2, s.PoolStats().Open)

	require.NoError(t, m1.Close())
	select {
	case err := <-done1:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after Close")
	}

	m2 := master.New(master.Config{})
	register(t, m2, methods)
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, hangGuard, 20*time.Millisecond, "the port did not come free")
	done2 := make(chan error, 1)
	go func() { done2 <- m2.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m2.Close(); <-done2 })

	// Both pooled connections are dead; no call may notice.
	for i := range 3 {
		resp, err := s.Call(callCtx(t), "echo", []byte(fmt.Sprint("second ", i)))
		require.NoError(t, err, "call %d after the restart", i)
		require.Equal(t, fmt.Sprint("second ", i), string(resp))
	}
	concurrentCalls(t, s, 2, "third")
	require.GreaterOrEqual(t, s.PoolStats().Dials, uint64(3))
}

func concurrentCalls(t *testing.T, s *slave.Slave, n int, tag string) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprint(tag, " ", i)
			resp, err := s.Call(callCtx(t), "echo", []byte(want))
			if assert.NoError(t, err, want) {
				assert.Equal(t, want, string(resp))
			}
		}()
	}
	wg.Wait()
}

// blocker is a handler that holds calls until released.
type blocker struct {
	started chan struct{}
	release chan struct{}
}

func newBlocker(n int) *blocker {
	return &blocker{started: make(chan struct{}, n), release: make(chan struct{})}
}

func (b *blocker) handle(op *master.IOOperator) error {
	req, err := op.ReadAll()
	if err != nil {
		return err
	}
	b.started <- struct{}{}
	<-b.release
	return op.WriteIOFromBuffer(append([]byte("done:"), req...))
}

func (b *blocker) waitStarted(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.started:
		case <-time.After(hangGuard):
			t.Fatal("handler not started")
		}
	}
}

// 9. Shutdown lets calls in flight finish, then returns nil; later calls
// fail fast.
func TestShutdownWaitsForCallsInFlight(t *testing.T) {
	t.Parallel()
	const n = 4
	b := newBlocker(n)
	m := master.New(master.Config{})
	register(t, m, map[string]master.Handler{"block": b.handle, "echo": echo})
	addr, done := serveOn(t, m, "127.0.0.1:0")
	s := dialSlave(t, addr, slave.Config{PoolSize: n})

	type result struct {
		i    int
		resp []byte
		err  error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			resp, err := s.Call(callCtx(t), "block", []byte(fmt.Sprint(i)))
			results <- result{i, resp, err}
		}()
	}
	b.waitStarted(t, n)

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		shutdown <- m.Shutdown(ctx)
	}()
	require.Eventually(t, func() bool { return shutdownBegun(m) }, hangGuard, 5*time.Millisecond)
	select {
	case err := <-done:
		require.NoError(t, err, "Serve when Shutdown began")
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return when Shutdown began")
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with calls in flight", err)
	default:
	}
	_, err := net.Dial("tcp", addr)
	require.Error(t, err, "still accepting during shutdown")

	close(b.release)
	for range n {
		r := <-results
		require.NoError(t, r.err, "call %d in flight during shutdown", r.i)
		require.Equal(t, fmt.Sprint("done:", r.i), string(r.resp))
	}
	select {
	case err := <-shutdown:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Shutdown did not return after the calls finished")
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err = s.Call(ctx, "echo", []byte("late"))
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "a call after shutdown hung")
	require.True(t, errors.Is(err, slave.ErrShuttingDown) || errors.Is(err, syscall.ECONNREFUSED),
		"want ErrShuttingDown or a refused dial, got %v", err)
}

// 9. A request that arrives on an idle connection while the master shuts
// down is answered with StatusShuttingDown: it was not processed.
func TestShutdownRefusesRequestOnIdleConnection(t *testing.T) {
	t.Parallel()
	b := newBlocker(1)
	var echoed atomic.Int32
	m := master.New(master.Config{})
	register(t, m, map[string]master.Handler{
		"block": b.handle,
		"echo": func(op *master.IOOperator) error {
			echoed.Add(1)
			return echo(op)
		},
	})
	addr, done := serveOn(t, m, "127.0.0.1:0")
	idle := rawHandshake(t, addr)
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	inflight := make(chan error, 1)
	go func() {
		_, err := s.Call(callCtx(t), "block", []byte("x"))
		inflight <- err
	}()
	b.waitStarted(t, 1)

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		shutdown <- m.Shutdown(ctx)
	}()
	require.Eventually(t, func() bool { return shutdownBegun(m) }, hangGuard, 5*time.Millisecond)

	// The master answers the request, or has already sent its notice and
	// (if this write comes more than a second later, on a loaded machine)
	// stopped draining and closed. Either way the first thing to read is a
	// response saying it is shutting down.
	var req [frame.RequestHeaderSize + 5]byte
	frame.PutRequestHeader(req[:], frame.RequestHeader{Method: frame.MethodID("echo"), Length: 5})
	copy(req[frame.RequestHeaderSize:], "hello")
	if _, err := idle.Write(req[:]); err != nil {
		require.True(t, errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET), "write: %v", err)
	}
	h, msg := readResponse(t, idle)
	require.Equal(t, frame.StatusShuttingDown, h.Status, "message %q", msg)
	_, err := io.Copy(io.Discard, idle)
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET, "the connection was not closed")
	}
	require.NoError(t, idle.Close())
	require.Zero(t, echoed.Load(), "the request was processed during shutdown")

	close(b.release)
	require.NoError(t, <-inflight)
	select {
	case err := <-shutdown:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Shutdown did not return")
	}
	require.NoError(t, <-done)
}

// 9. When Shutdown's context ends before a handler that ignores its own
// context, Shutdown returns the context's error and closes everything: the
// call fails and the handler's context is cancelled.
func TestShutdownContextExpires(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	handlerCtxErr := make(chan error, 1)
	m := master.New(master.Config{})
	register(t, m, map[string]master.Handler{
		"stubborn": func(op *master.IOOperator) error {
			ctx := op.Context()
			close(started)
			<-release // ignores ctx
			handlerCtxErr <- ctx.Err()
			return op.WriteIOFromBuffer([]byte("too late"))
		},
	})
	addr, done := serveOn(t, m, "127.0.0.1:0")
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	callErr := make(chan error, 1)
	go func() {
		_, err := s.Call(callCtx(t), "stubborn", nil)
		callErr <- err
	}()
	select {
	case <-started:
	case <-time.After(hangGuard):
		t.Fatal("handler not started")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, m.Shutdown(ctx), context.DeadlineExceeded)

	select {
	case err := <-callErr:
		require.ErrorIs(t, err, slave.ErrConnection)
	case <-time.After(hangGuard):
		t.Fatal("the call did not fail after the master closed")
	}
	require.NoError(t, <-done)

	releaseOnce.Do(func() { close(release) })
	select {
	case err := <-handlerCtxErr:
		require.ErrorIs(t, err, context.Canceled, "the handler's context was not cancelled by Close")
	case <-time.After(hangGuard):
		t.Fatal("handler did not finish")
	}
}

// 17. A call has exactly one response, and reads stay within the request.
func TestOperatorRules(t *testing.T) {
	t.Parallel()
	type report struct {
		beyond, negative, second, writeErr, nothing, fromReader error
		leftAfterBeyond                                         uint64
		head                                                    string
		eof                                                     error
	}
	reports := make(chan report, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"rules": func(op *master.IOOperator) error {
			var r report
			_, r.beyond = op.ReadIOStream(int(op.ReadDataLeft()) + 1)
			r.leftAfterBeyond = op.ReadDataLeft()
			_, r.negative = op.ReadIOStream(-1)
			head, err := op.ReadIOStream(2)
			if err != nil {
				return err
			}
			r.head = string(head)
			if _, err := io.Copy(io.Discard, op); err != nil {
				return err
			}
			_, r.eof = op.Read(make([]byte, 1))
			if err := op.WriteIOFromBuffer([]byte("first")); err != nil {
				return err
			}
			r.second = op.WriteIOFromBuffer([]byte("second"))
			r.writeErr = op.WriteError("third")
			r.nothing = op.WriteNothing()
			r.fromReader = op.WriteIOFromReader(strings.NewReader("x"), 1, 0)
			reports <- r
			return errors.New("returned after responding: ignored")
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	resp, err := s.Call(callCtx(t), "rules", []byte("abcdef"))
	require.NoError(t, err)
	require.Equal(t, "first", string(resp))
	r := <-reports
	require.ErrorIs(t, r.beyond, master.ErrBeyondRequest)
	require.EqualValues(t, 6, r.leftAfterBeyond, "a refused read consumed bytes")
	require.ErrorIs(t, r.negative, master.ErrBeyondRequest)
	require.Equal(t, "ab", r.head)
	require.ErrorIs(t, r.eof, io.EOF)
	require.ErrorIs(t, r.second, master.ErrAlreadyResponded)
	require.ErrorIs(t, r.writeErr, master.ErrAlreadyResponded)
	require.ErrorIs(t, r.nothing, master.ErrAlreadyResponded)
	require.ErrorIs(t, r.fromReader, master.ErrAlreadyResponded)

	// Nothing extra reached the wire: the connection is still in step.
	resp, err = s.Call(callCtx(t), "echo", []byte("in step"))
	require.NoError(t, err)
	require.Equal(t, "in step", string(resp))
	require.EqualValues(t, 1, s.PoolStats().Dials)
}
