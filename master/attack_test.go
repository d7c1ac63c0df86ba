package master_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// Attacks and unlucky days beyond the classic hostile peers: a payload
// dripped after a complete header, a peer that never reads, calls whose
// slave walked away, and handlers that keep their context.

// honestWithin checks that a fresh honest slave is served by the master at
// addr within d, retrying while the master is full: slots held by an
// attacker must be freed by the master's own limits, fast enough for an
// honest caller.
func honestWithin(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < d {
		ctx, cancel := context.WithTimeout(context.Background(), d-time.Since(start))
		s, err := slave.New(slave.Config{Address: addr, PoolSize: 1})
		require.NoError(t, err)
		resp, err := s.Call(ctx, "echo", []byte("honest"))
		cancel()
		_ = s.Close()
		if err == nil {
			require.Equal(t, "honest", string(resp))
			return
		}
		last = err
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("an honest slave was not served within %v: %v", d, last)
}

// dripper sends a complete request header for method and then its payload
// a few bytes at a time, until the master closes the connection or stop
// is closed. It reports on closed when the master closed it.
func dripper(t *testing.T, addr string, method string, stop <-chan struct{}, closed chan<- time.Duration) {
	nc := rawHandshake(t, addr)
	writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID(method), Length: 1 << 20})
	start := time.Now()
	go func() {
		defer nc.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := nc.Write([]byte("drip")); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	go func() {
		// The master's close shows as EOF (or a reset) on the read side.
		_, _ = io.Copy(io.Discard, nc)
		closed <- time.Since(start)
	}()
}

func TestHostilePayloadDrip(t *testing.T) {
	cfg := master.Config{MaxConnections: 4, HeaderTimeout: time.Second, IdleTimeout: time.Second, BodyTimeout: 300 * time.Millisecond}
	hostileCase(t, cfg, func(t *testing.T, m *master.Master, addr string) {
		require.NoError(t, m.Register("slowread", master.MethodInfo{}, func(op *master.IOOperator) error {
			_, err := op.WriteTo(io.Discard) // a handler reading its payload as it comes
			return err
		}))
		stop := make(chan struct{})
		defer close(stop)
		closed := make(chan time.Duration, 8)
		// Every slot: two payloads the master discards (unknown method),
		// two that a handler reads.
		for _, method := range []string{"nosuch", "nosuch", "slowread", "slowread"} {
			dripper(t, addr, method, stop, closed)
		}
		honestWithin(t, addr, time.Second)
		for range 4 {
			select {
			case d := <-closed:
				t.Logf("dripping connection closed after %v", d)
			case <-time.After(5 * time.Second):
				t.Fatal("a dripping connection was not closed by BodyTimeout")
			}
		}
	})
}

func TestHostilePeerNeverReads(t *testing.T) {
	cfg := master.Config{MaxConnections: 1, WriteTimeout: 300 * time.Millisecond}
	hostileCase(t, cfg, func(t *testing.T, m *master.Master, addr string) {
		// The only slot: a peer that asks for 16 MiB and never reads.
		nc := rawHandshake(t, addr)
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("big")})
		honestWithin(t, addr, time.Second)
		// Once the socket buffers are full the master gave up on it.
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := io.Copy(io.Discard, nc)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the master kept writing to a peer that never reads")
	})
}

// Progress-based: a slow but steady stream is never cut, however long it
// takes in all.
func TestBodyAndWriteTimeoutsAreProgressBased(t *testing.T) {
	_, addr := serveMaster(t, master.Config{BodyTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond},
		map[string]master.Handler{"count": func(op *master.IOOperator) error {
			n, err := op.WriteTo(io.Discard)
			if err != nil {
				return err
			}
			return op.WriteIOFromReader(zeros{}, int(n), 0)
		}})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	const size = 3 << 20 // 3 MiB up and down, at 1 MiB/s each way: 6 s > 30 timeouts
	body := &pacedReader{left: size, step: 64 << 10, every: 60 * time.Millisecond}
	w := &pacedWriter{step: 64 << 10, every: 60 * time.Millisecond}
	n, err := s.CallStream(callCtx(t), "count", body, size, w)
	require.NoError(t, err)
	require.Equal(t, int64(size), n)
}

// pacedReader yields left bytes, step at a time, sleeping every between
// steps.
type pacedReader struct {
	left, step int
	every      time.Duration
	started    bool
}

func (r *pacedReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.started {
		time.Sleep(r.every)
	}
	r.started = true
	n := min(len(p), r.step, r.left)
	clear(p[:n])
	r.left -= n
	return n, nil
}

// pacedWriter accepts step bytes per write, sleeping every between them.
type pacedWriter struct {
	step  int
	every time.Duration
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		n := min(len(p)-done, w.step)
		done += n
		time.Sleep(w.every)
	}
	return len(p), nil
}

// A slave that gives up on a call frees the master's slot, and a slave
// that disappears cancels the handler's context, even while a handler
// ignoring its context still runs; such handlers are bounded by
// MaxConnections too.
func TestAbandonedCallsFreeSlotsAndCancelHandlers(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	cancelled := make(chan error, 1)
	_, addr := serveMaster(t, master.Config{MaxConnections: 4}, map[string]master.Handler{
		"echo": echo,
		"stubborn": func(op *master.IOOperator) error {
			running.Add(1)
			defer running.Add(-1)
			if _, err := op.ReadAll(); err != nil {
				return err
			}
			select { // ignores its context
			case <-release:
			case <-time.After(hangGuard):
			}
			return op.WriteNothing()
		},
		"watch": func(op *master.IOOperator) error {
			select {
			case <-op.Context().Done():
				if !errors.Is(op.Context().Err(), context.Canceled) {
					cancelled <- op.Context().Err()
				}
				cancelled <- context.Cause(op.Context())
			case <-time.After(hangGuard):
				cancelled <- errors.New("never cancelled")
			}
			return nil
		},
	})
	defer close(release)

	// One slave, one connection at a time, calls it gives up on: each one
	// it abandons used to keep a slot until the handler returned. Six
	// stubborn handlers end up running at once, more than the four slots.
	// In version 1 a cancelled call closes its connection (version 2
	// sends a cancel frame instead, and waits for the answer).
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxProtocolVersion: 1})
	for i := 0; running.Load() < 6; i++ {
		require.Less(t, i, 100, "stubborn handlers running: %d", running.Load())
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(20*time.Millisecond, cancel)
		_, err := s.Call(ctx, "stubborn", []byte("x"))
		stop.Stop()
		cancel()
		// A redial can beat the master to noticing the last departure:
		// then it is refused, and tried again.
		if !errors.Is(err, slave.ErrOverloaded) {
			require.ErrorIs(t, err, context.Canceled)
		}
	}
	honestWithin(t, addr, time.Second)

	// A call with no deadline whose slave closes the connection: the
	// handler's context ends within milliseconds.
	nc := rawHandshake(t, addr)
	writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("watch")})
	time.Sleep(20 * time.Millisecond) // the handler is waiting
	require.NoError(t, nc.Close())
	select {
	case err := <-cancelled:
		require.ErrorIs(t, err, master.ErrSlaveGone)
	case <-time.After(2 * time.Second):
		t.Fatal("the handler's context was not cancelled when its slave left")
	}
}

// Handlers whose slave left free their slots only up to MaxConnections of
// them: beyond that they hold their slots as before, so a flood of
// abandoned calls cannot grow the master's goroutines without bound.
func TestAbandonedHandlersAreBounded(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	_, addr := serveMaster(t, master.Config{MaxConnections: 2}, map[string]master.Handler{
		"echo": echo,
		"stubborn": func(op *master.IOOperator) error {
			running.Add(1)
			defer running.Add(-1)
			select {
			case <-release:
			case <-time.After(hangGuard):
			}
			return nil
		},
	})
	for range 20 {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		writePreface(t, nc, frame.Preface{Version: frame.Version1})
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("stubborn")})
		time.Sleep(10 * time.Millisecond) // the handler runs, the watcher watches
		require.NoError(t, nc.Close())
	}
	time.Sleep(50 * time.Millisecond)
	require.LessOrEqual(t, running.Load(), int32(4), "more than twice MaxConnections handlers run")
	require.GreaterOrEqual(t, running.Load(), int32(3), "abandoned calls freed no slot")
	close(release)
	require.Eventually(t, func() bool { return running.Load() == 0 }, hangGuard, time.Millisecond)
	honestWithin(t, addr, time.Second)
}

// WriteTimeout counts what a slow reader takes from the socket, not only
// writes that return: the kernel wakes a blocked writer only after a large
// part of its send buffer drained, and a steady reader above
// ProgressQuantum per WriteTimeout is never cut, however large the
// master's write buffer.
func TestWriteTimeoutSeesSocketProgress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the send queue is read on Linux only")
	}
	const size = 4 << 20
	for _, wbuf := range []int{0, 8 << 20} {
		// The last writes block while the reader drains the socket's
		// buffer, for longer than WriteTimeout: a master that counted only
		// writes that return would cut the reader there (it does, with
		// Unsent ignored). The reader's pace is ten times the floor of
		// 64 KiB per 200 ms, so a busy machine stretching its sleeps does
		// not get it cut (at 100 ms a loaded CI run did).
		_, addr := serveMaster(t, master.Config{WriteTimeout: 200 * time.Millisecond, Conn: conn.Config{WriteBufferSize: wbuf}},
			map[string]master.Handler{"big": func(op *master.IOOperator) error {
				return op.WriteIOFromBuffer(make([]byte, size))
			}})
		nc := rawHandshake(t, addr)
		writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("big")})
		// 64 KiB every 20 ms, about 3 MB/s.
		buf := make([]byte, 64<<10)
		got := 0
		for got < size+frame.ResponseHeaderSize {
			n, err := io.ReadFull(nc, buf[:min(len(buf), size+frame.ResponseHeaderSize-got)])
			got += n
			require.NoError(t, err, "write buffer %d: cut after %d bytes", wbuf, got)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Each call has its own context: one kept after the handler returned is
// cancelled, keeps its call's deadline, no longer leads to the reused
// IOOperator, and is race-free (go test -race).
func TestHandlerContextIsItsOwn(t *testing.T) {
	kept := make(chan context.Context, 4)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"keep": func(op *master.IOOperator) error {
			ctx := op.Context()
			go func() { // the common go audit(context.WithoutCancel(ctx))
				_ = context.WithoutCancel(ctx).Value("k")
			}()
			kept <- ctx
			return op.WriteNothing()
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	ctx1, cancel1 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel1()
	_, err := s.Call(ctx1, "keep", nil)
	require.NoError(t, err)
	first := <-kept
	dl1, ok := first.Deadline()
	require.True(t, ok)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reads the kept context while the next calls run
		defer wg.Done()
		for range 1000 {
			_ = first.Err()
			_, _ = first.Deadline()
			_ = master.OperatorFrom(first)
		}
	}()
	for range 20 {
		_, err := s.Call(callCtx(t), "keep", nil) // a different deadline each time
		require.NoError(t, err)
		<-kept
	}
	wg.Wait()

	select {
	case <-first.Done():
	case <-time.After(time.Second):
		t.Fatal("a kept context was not cancelled after its call")
	}
	require.ErrorIs(t, first.Err(), context.Canceled)
	dl, ok := first.Deadline()
	require.True(t, ok)
	require.Equal(t, dl1, dl, "the kept context must keep its own call's deadline")
	require.Nil(t, master.OperatorFrom(first), "a finished call's context must not lead to the next call's operator")
}

// A method may set its own request limit: an upload method accepts any
// size while the master keeps a small default.
func TestPerMethodRequestLimit(t *testing.T) {
	m := master.New(master.Config{MaxRequestSize: 1 << 10})
	count := func(op *master.IOOperator) error {
		n, err := op.WriteTo(io.Discard)
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer([]byte{byte(n >> 20)})
	}
	require.NoError(t, m.Register("upload", master.MethodInfo{MaxRequestSize: -1}, count))
	require.NoError(t, m.Register("tiny", master.MethodInfo{MaxRequestSize: 16}, count))
	require.NoError(t, m.Register("default", master.MethodInfo{}, count))
	addr, _ := serveOn(t, m, "127.0.0.1:0")
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxRequestSize: -1})

	const big = 8 << 20
	var out bytes.Buffer
	_, err := s.CallStream(callCtx(t), "upload", io.LimitReader(zeros{}, big), big, &out)
	require.NoError(t, err)
	require.Equal(t, []byte{big >> 20}, out.Bytes())

	_, err = s.Call(callCtx(t), "tiny", make([]byte, 17))
	require.ErrorIs(t, err, slave.ErrRequestTooLarge)
	_, err = s.Call(callCtx(t), "default", make([]byte, 2<<10))
	require.ErrorIs(t, err, slave.ErrRequestTooLarge)
	_, err = s.Call(callCtx(t), "default", make([]byte, 1<<10))
	require.NoError(t, err)
}

// A handler whose streamed response ends early is logged with what it
// promised and what it sent.
func TestEarlyEndedResponseIsLogged(t *testing.T) {
	var logs testserve.SyncBuffer
	_, addr := serveMaster(t, master.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, map[string]master.Handler{
		"short": func(op *master.IOOperator) error {
			return op.WriteIOFromReader(strings.NewReader("abc"), 10, 0)
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	_, err := s.Call(callCtx(t), "short", nil)
	require.Error(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "ended early") }, hangGuard, time.Millisecond)
	line := logs.String()
	assert.Contains(t, line, "method=short")
	assert.Contains(t, line, "promised=10")
	assert.Contains(t, line, "sent=3")
}

// Two names with one ID, and a name hashing to the reserved ID 0, are
// refused; FNV-1a makes both impractical to find, so the hash is replaced.
func TestRegisterRefusesIDCollisions(t *testing.T) {
	defer master.SetMethodID(func(name string) uint64 {
		switch name {
		case "zero":
			return 0
		case "a", "b":
			return 42
		}
		return frame.MethodID(name)
	})()
	m := master.New(master.Config{})
	h := func(op *master.IOOperator) error { return nil }
	err := m.Register("zero", master.MethodInfo{}, h)
	require.ErrorIs(t, err, master.ErrIDCollision)
	require.Contains(t, err.Error(), "reserved ID 0")
	require.NoError(t, m.Register("a", master.MethodInfo{}, h))
	err = m.Register("b", master.MethodInfo{}, h)
	require.ErrorIs(t, err, master.ErrIDCollision)
	require.Contains(t, err.Error(), `"a" and "b"`)
	require.ErrorIs(t, m.Register("a", master.MethodInfo{}, h), master.ErrDuplicate)
	names := []string{}
	for _, c := range m.Capabilities() {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{frame.CapabilitiesName, "a"}, names, "a refused name must not be listed")
}

// A kept context says the same before and after its standard parts are
// built: Err alone builds nothing.
func TestHandlerContextErrIsConsistent(t *testing.T) {
	kept := make(chan context.Context, 2)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"keep": func(op *master.IOOperator) error {
			kept <- op.Context()
			return nil
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	// Ended by its handler returning, before its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := s.Call(ctx, "keep", nil)
	cancel()
	require.NoError(t, err)
	first := <-kept
	require.ErrorIs(t, first.Err(), context.Canceled)
	time.Sleep(60 * time.Millisecond) // its deadline passes
	require.ErrorIs(t, first.Err(), context.Canceled, "the first cause stays")
	<-first.Done()
	require.ErrorIs(t, first.Err(), context.Canceled, "building Done does not change Err")
	require.ErrorIs(t, context.Cause(first), context.Canceled)
}

// An error message longer than the write buffer, to a peer that pipelines
// requests and never reads, is cut by WriteTimeout like any response.
func TestLongErrorToPeerThatNeverReads(t *testing.T) {
	cfg := master.Config{MaxConnections: 1, WriteTimeout: 200 * time.Millisecond}
	hostileCase(t, cfg, func(t *testing.T, m *master.Master, addr string) {
		long := strings.Repeat("e", 60<<10)
		require.NoError(t, m.Register("fail", master.MethodInfo{}, func(op *master.IOOperator) error {
			return op.WriteError(long)
		}))
		nc := rawHandshake(t, addr)
		go func() {
			var hdr [frame.RequestHeaderSize]byte
			frame.PutRequestHeader(hdr[:], frame.RequestHeader{Method: frame.MethodID("fail")})
			for range 2000 {
				if _, err := nc.Write(hdr[:]); err != nil {
					return
				}
			}
		}()
		honestWithin(t, addr, 2*time.Second)
	})
}

// A slave that half-closes its side after its request still gets the
// answer: the watcher cancels nothing it should not and closes nothing.
func TestHalfClosedSlaveGetsItsAnswer(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"slow": func(op *master.IOOperator) error {
			time.Sleep(20 * time.Millisecond) // long enough to be watched
			return op.WriteIOFromBuffer([]byte("answer"))
		},
	})
	nc := rawHandshake(t, addr)
	writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("slow")})
	require.NoError(t, nc.(*net.TCPConn).CloseWrite())
	h, body := readResponse(t, nc)
	require.Equal(t, frame.StatusOK, h.Status)
	require.Equal(t, "answer", string(body))
}

// Closing the master cancels running handlers' contexts with ErrClosed.
func TestCloseCancelsHandlersWithErrClosed(t *testing.T) {
	started := make(chan struct{})
	cause := make(chan error, 1)
	m := master.New(master.Config{})
	require.NoError(t, m.Register("wait", master.MethodInfo{}, func(op *master.IOOperator) error {
		ctx := op.Context()
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil
	}))
	addr, _ := serveOn(t, m, "127.0.0.1:0")
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	go func() { _, _ = s.Call(context.Background(), "wait", nil) }()
	<-started
	time.Sleep(10 * time.Millisecond) // the watcher watches too
	require.NoError(t, m.Close())
	select {
	case err := <-cause:
		require.ErrorIs(t, err, master.ErrClosed)
	case <-time.After(hangGuard):
		t.Fatal("Close did not cancel the handler's context")
	}
}
