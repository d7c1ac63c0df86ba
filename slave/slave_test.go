package slave_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// 1. Many callers over a small pool: every call gets back exactly its own
// bytes, whatever the size, on both the buffered and the streaming path.
func TestConcurrentCallersPayloadIntegrity(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo":       echo,
		"streamecho": streamEcho,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 4})
	ctx := callCtx(t)

	sizes := []int{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20, 5 << 20}
	methods := []string{"echo", "streamecho"}
	src := randomBytes(1, 5<<20+4096)
	const goroutines, perG = 64, 8

	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				size := sizes[(g+i)%len(sizes)]
				// Keep the volume moderate for -race: 5 MiB payloads go
				// through on only some of the calls.
				if size == 5<<20 && g%8 != 0 {
					size = 1 << 20
				}
				// Sizes cycle so that each appears on both methods.
				method := methods[(g/len(sizes)+i)%len(methods)]
				off := (g*131 + i*17) % 4096
				req := make([]byte, size)
				copy(req, src[off:off+size])
				// Stamp the call's identity at both ends so a response from
				// another call cannot pass for this one.
				if size >= 8 {
					binary.BigEndian.PutUint32(req[0:], uint32(g))
					binary.BigEndian.PutUint32(req[4:], uint32(i))
				}
				if size >= 16 {
					binary.BigEndian.PutUint32(req[size-8:], uint32(g))
					binary.BigEndian.PutUint32(req[size-4:], uint32(i))
				}
				want := sha256.Sum256(req)
				resp, err := s.Call(ctx, method, req)
				if !assert.NoError(t, err, "goroutine %d call %d (%s, %d bytes)", g, i, method, size) {
					return
				}
				if !assert.Equal(t, size, len(resp), "goroutine %d call %d: length", g, i) {
					return
				}
				if !assert.Equal(t, want, sha256.Sum256(resp), "goroutine %d call %d (%s, %d bytes): sha256", g, i, method, size) {
					return
				}
				if !assert.True(t, bytes.Equal(req, resp), "goroutine %d call %d: bytes differ", g, i) {
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, goroutines*perG, calls.Load())
	st := s.PoolStats()
	assert.LessOrEqual(t, st.Open, 4, "pool grew beyond PoolSize")
	assert.LessOrEqual(t, st.Dials, uint64(4), "connections were dropped and redialled")
}

// 2. A handler that reads only part of the request, or nothing, leaves the
// connection usable: the master discards the rest.
func TestPartialReadsKeepConnection(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"head3": func(op *master.IOOperator) error {
			b, err := op.ReadIOStream(3)
			if err != nil {
				return err
			}
			return op.WriteIOFromBuffer(b)
		},
		"ignore": func(op *master.IOOperator) error {
			return op.WriteIOFromBuffer([]byte("ignored"))
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	for _, size := range []int{3, 100, 64<<10 + 1, 1 << 20} {
		req := randomBytes(uint64(size), size)
		resp, err := s.Call(ctx, "head3", req)
		require.NoError(t, err, "size %d", size)
		require.Equal(t, req[:3], resp, "size %d", size)

		resp, err = s.Call(ctx, "echo", []byte("still framed"))
		require.NoError(t, err)
		require.Equal(t, "still framed", string(resp))
	}

	big := randomBytes(9, 1<<20)
	for range 3 {
		resp, err := s.Call(ctx, "ignore", big)
		require.NoError(t, err)
		require.Equal(t, "ignored", string(resp))
	}
	resp, err := s.Call(ctx, "echo", big[:100])
	require.NoError(t, err)
	require.Equal(t, big[:100], resp)

	require.EqualValues(t, 1, s.PoolStats().Dials, "the connection was replaced")
}

// 3. A handler that writes nothing gives an empty successful response.
func TestHandlerWritesNothing(t *testing.T) {
	var called atomic.Int32
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"nothing": func(op *master.IOOperator) error { called.Add(1); return nil },
		"writenothing": func(op *master.IOOperator) error {
			called.Add(1)
			return op.WriteNothing()
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	for _, method := range []string{"nothing", "writenothing"} {
		for _, req := range [][]byte{nil, []byte("some request")} {
			resp, err := s.Call(ctx, method, req)
			require.NoError(t, err, method)
			require.Empty(t, resp, method)

			var out bytes.Buffer
			n, err := s.CallStream(ctx, method, bytes.NewReader(req), int64(len(req)), &out)
			require.NoError(t, err, method)
			require.Zero(t, n)
			require.Zero(t, out.Len())
		}
	}
	require.EqualValues(t, 8, called.Load())
	require.EqualValues(t, 1, s.PoolStats().Dials)
}

type codedError struct {
	code uint32
	msg  string
}

func (e codedError) Error() string { return e.msg }
func (e codedError) Code() uint32  { return e.code }

// 4. Handler errors arrive as *RemoteError with message and code, match
// ErrApplication, and leave the connection usable.
func TestHandlerErrors(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"returned":  func(op *master.IOOperator) error { return errors.New("returned failure") },
		"coded":     func(op *master.IOOperator) error { return fmt.Errorf("wrapped: %w", codedError{42, "coded failure"}) },
		"write":     func(op *master.IOOperator) error { return op.WriteError("written failure") },
		"writecode": func(op *master.IOOperator) error { return master.WithCode(errors.New("written coded failure"), 7) },
		"echo":      echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	cases := []struct {
		method string
		code   uint32
		msg    string
	}{
		{"returned", 0, "returned failure"},
		{"coded", 42, "wrapped: coded failure"},
		{"write", 0, "written failure"},
		{"writecode", 7, "written coded failure"},
	}
	for _, tc := range cases {
		for _, req := range [][]byte{nil, randomBytes(3, 200<<10)} {
			resp, err := s.Call(ctx, tc.method, req)
			require.Error(t, err, tc.method)
			require.Empty(t, resp)
			require.ErrorIs(t, err, slave.ErrApplication, tc.method)
			require.NotErrorIs(t, err, slave.ErrConnection)
			var re *slave.RemoteError
			require.ErrorAs(t, err, &re, tc.method)
			assert.Equal(t, tc.method, re.Method)
			assert.Equal(t, frame.StatusApplicationError, re.Status)
			assert.Equal(t, tc.code, re.Code, tc.method)
			assert.Equal(t, tc.msg, re.Message, tc.method)

			resp, err = s.Call(ctx, "echo", []byte("next"))
			require.NoError(t, err)
			require.Equal(t, "next", string(resp))
		}
	}
	require.EqualValues(t, 1, s.PoolStats().Dials, "an application error cost the connection")
}

// 5. A panic becomes ErrHandlerPanic with a generic message; the details go
// to the master's log only, and the master and connection keep serving.
func TestHandlerPanic(t *testing.T) {
	const secret = "secret-panic-detail-4711"
	var logs testserve.SyncBuffer
	_, addr := serveMaster(t, master.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, map[string]master.Handler{
		"panic": func(op *master.IOOperator) error { panic(secret) },
		"panicafterread": func(op *master.IOOperator) error {
			_, _ = op.ReadIOStream(1)
			panic(errors.New(secret))
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	for _, method := range []string{"panic", "panicafterread", "panic"} {
		_, err := s.Call(ctx, method, []byte("payload"))
		require.ErrorIs(t, err, slave.ErrHandlerPanic)
		var re *slave.RemoteError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, frame.StatusHandlerPanic, re.Status)
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, err.Error(), "goroutine")
		assert.NotContains(t, err.Error(), ".go:")
		assert.Less(t, len(re.Message), 200, "message is suspiciously long: %q", re.Message)

		resp, err := s.Call(ctx, "echo", []byte("alive"))
		require.NoError(t, err)
		require.Equal(t, "alive", string(resp))
	}
	require.EqualValues(t, 1, s.PoolStats().Dials)
	assert.Contains(t, logs.String(), secret, "the master should log the panic value")
}

// 6. An unknown method is ErrUnknownMethod and costs nothing else.
func TestUnknownMethod(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"echo": echo})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	for _, req := range [][]byte{nil, []byte("x"), randomBytes(5, 300<<10)} {
		_, err := s.Call(ctx, "nosuchmethod", req)
		require.ErrorIs(t, err, slave.ErrUnknownMethod)
		require.NotErrorIs(t, err, slave.ErrApplication)
		resp, err := s.Call(ctx, "echo", []byte("ok"))
		require.NoError(t, err)
		require.Equal(t, "ok", string(resp))
	}
	require.EqualValues(t, 1, s.PoolStats().Dials)
}

// 7a. A call's deadline travels to the handler, which sees it in Deadline
// and in Context; the slave gives up with context.DeadlineExceeded.
func TestDeadlinePropagates(t *testing.T) {
	type seen struct {
		deadline time.Time
		ok       bool
		ctxErr   error
	}
	seenc := make(chan seen, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"waitctx": func(op *master.IOOperator) error {
			dl, ok := op.Deadline()
			ctx := op.Context()
			select {
			case <-ctx.Done():
			case <-time.After(hangGuard):
			}
			seenc <- seen{dl, ok, ctx.Err()}
			return ctx.Err()
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Call(ctx, "waitctx", []byte("x"))
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, elapsed, 5*time.Second)

	select {
	case got := <-seenc:
		require.True(t, got.ok, "handler saw no deadline")
		assert.True(t, got.deadline.After(start.Add(100*time.Millisecond)), "deadline %v is too early", got.deadline.Sub(start))
		assert.True(t, got.deadline.Before(start.Add(5*time.Second)), "deadline %v is too late", got.deadline.Sub(start))
		assert.ErrorIs(t, got.ctxErr, context.DeadlineExceeded, "handler context was not cancelled at the deadline")
	case <-time.After(hangGuard):
		t.Fatal("handler never saw its context end")
	}

	resp, err := s.Call(callCtx(t), "echo", []byte("after"))
	require.NoError(t, err)
	require.Equal(t, "after", string(resp))
}

// 7b. Every expired call reports context.DeadlineExceeded, even when the
// socket's deadline fires before the context's timer.
func TestDeadlineAlwaysMatchesContextError(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"waitctx": func(op *master.IOOperator) error {
			<-op.Context().Done()
			return op.Context().Err()
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 2})
	for i := range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := s.Call(ctx, "waitctx", nil)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "call %d", i)
	}
}

// 7c. Cancelling a call without a deadline returns context.Canceled and the
// slave keeps working.
func TestCancelMidCall(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"block": func(op *master.IOOperator) error {
			started <- struct{}{}
			select {
			case <-op.Context().Done():
			case <-release:
			}
			return nil
		},
		"echo": echo,
	})
	t.Cleanup(func() { close(release) })
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Call(ctx, "block", []byte("x"))
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(hangGuard):
		t.Fatal("handler not started")
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled call did not return")
	}

	resp, err := s.Call(callCtx(t), "echo", []byte("after cancel"))
	require.NoError(t, err)
	require.Equal(t, "after cancel", string(resp))
}

// 7d. A context that has already ended fails the call before anything is
// sent.
func TestExpiredContextSendsNothing(t *testing.T) {
	var called atomic.Int32
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"count": func(op *master.IOOperator) error { called.Add(1); return nil },
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	before := s.PoolStats()

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := s.Call(expired, "count", []byte("x"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = s.CallStream(expired, "count", failReader{t}, 10, io.Discard)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = s.Call(cancelled, "count", []byte("x"))
	require.ErrorIs(t, err, context.Canceled)

	after := s.PoolStats()
	require.Equal(t, before.Acquires, after.Acquires, "a connection was taken for a dead call")
	require.Zero(t, called.Load(), "the handler ran")

	_, err = s.Call(callCtx(t), "count", nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, called.Load())
}

// 8. A handler that returns context.DeadlineExceeded itself is reported as
// StatusDeadlineExceeded.
func TestHandlerReturnsDeadlineExceeded(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"giveup": func(op *master.IOOperator) error {
			return fmt.Errorf("backend too slow: %w", context.DeadlineExceeded)
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)
	_, err := s.Call(ctx, "giveup", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, slave.ErrApplication)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, frame.StatusDeadlineExceeded, re.Status)
	require.Contains(t, re.Message, "backend too slow")

	_, err = s.Call(ctx, "echo", nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.PoolStats().Dials)
}

// rawListener serves one connection with answer and reports when done.
func rawListener(t *testing.T, answer []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			_ = nc.SetDeadline(time.Now().Add(hangGuard))
			var pre [frame.PrefaceSize]byte
			_, _ = io.ReadFull(nc, pre[:])
			_, _ = nc.Write(answer)
			_ = nc.Close()
		}
	}()
	return ln.Addr().String()
}

// 12. A slave refuses a peer that does not speak FastRpc, or speaks another
// version of it.
func TestDialProtocolMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()

	addr := rawListener(t, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	_, err := slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
	require.ErrorIs(t, err, frame.ErrBadMagic)

	addr = rawListener(t, []byte("HTTP"))
	_, err = slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
	require.ErrorIs(t, err, frame.ErrBadMagic, "a short garbage answer")

	var v2 [frame.PrefaceSize]byte
	frame.PutPreface(v2[:], frame.Preface{Version: 3})
	addr = rawListener(t, v2[:])
	_, err = slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 1})
	var ve *frame.VersionError
	require.ErrorAs(t, err, &ve)
	require.EqualValues(t, 3, ve.Remote)
	require.Equal(t, frame.MaxVersion, ve.Local)
}

// 13. Requests over the master's limit are refused by the master; those
// over the slave's own limit are refused before anything is sent.
func TestRequestTooLarge(t *testing.T) {
	var called atomic.Int32
	_, addr := serveMaster(t, master.Config{MaxRequestSize: 1024}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error { called.Add(1); return echo(op) },
	})
	ctx := callCtx(t)

	unlimited := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxRequestSize: -1})
	for _, size := range []int{1025, 4096, 1 << 20} {
		_, err := unlimited.Call(ctx, "echo", make([]byte, size))
		require.ErrorIs(t, err, slave.ErrRequestTooLarge, "size %d", size)
		var re *slave.RemoteError
		require.ErrorAs(t, err, &re, "size %d: the master's answer was lost", size)
		require.Equal(t, frame.StatusRequestTooLarge, re.Status)
	}
	resp, err := unlimited.Call(ctx, "echo", make([]byte, 1024))
	require.NoError(t, err, "a request at the limit")
	require.Len(t, resp, 1024)
	require.EqualValues(t, 1, called.Load())

	// A slave's MaxStreamRequestSize refuses a stream locally; the body is
	// never read and the master never hears of it.
	def := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxStreamRequestSize: 64 << 20})
	before := def.PoolStats()
	_, err = def.CallStream(ctx, "echo", failReader{t}, 64<<20+1, io.Discard)
	require.ErrorIs(t, err, slave.ErrRequestTooLarge)
	require.NotErrorAs(t, err, new(*slave.RemoteError))
	require.Equal(t, before.Acquires, def.PoolStats().Acquires)

	small := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxRequestSize: 10})
	_, err = small.Call(ctx, "echo", make([]byte, 11))
	require.ErrorIs(t, err, slave.ErrRequestTooLarge)
	require.EqualValues(t, 1, called.Load())
}

// 14. A response above MaxResponseSize fails with ErrResponseTooLarge and
// the slave recovers.
func TestResponseTooLarge(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"big":  func(op *master.IOOperator) error { return op.WriteIOFromBuffer(make([]byte, 2000)) },
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxResponseSize: 1000})
	ctx := callCtx(t)
	for range 3 {
		_, err := s.Call(ctx, "big", nil)
		require.ErrorIs(t, err, slave.ErrResponseTooLarge)
		resp, err := s.Call(ctx, "echo", make([]byte, 1000))
		require.NoError(t, err)
		require.Len(t, resp, 1000)
	}
	// CallStream is not bounded by MaxResponseSize.
	var out bytes.Buffer
	n, err := s.CallStream(ctx, "big", nil, 0, &out)
	require.NoError(t, err)
	require.EqualValues(t, 2000, n)
	require.Equal(t, 2000, out.Len())
}

// hashWriter hashes what it is given.
type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

// 15. A 64 MiB request streams through a handler and back with bounded
// memory on both sides.
func TestStream64MiB(t *testing.T) {
	const size = 64 << 20
	_, addr := serveMaster(t, master.Config{MaxRequestSize: -1}, map[string]master.Handler{
		"streamecho": streamEcho,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxRequestSize: 1 << 30})
	ctx := callCtx(t)

	gen := newGenReader(size)
	sent := sha256.New()
	body := io.TeeReader(gen, sent)
	got := &hashWriter{h: sha256.New()}

	var before, after runtimeMemStats
	before.read()
	n, err := s.CallStream(ctx, "streamecho", body, size, got)
	after.read()

	require.NoError(t, err)
	require.EqualValues(t, size, n)
	require.EqualValues(t, size, got.n)
	require.Zero(t, gen.left, "the request was not read whole")
	require.Equal(t, sent.Sum(nil), got.h.Sum(nil), "response differs from request")

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while streaming %d MiB each way", allocated>>10, size>>20)
	require.Less(t, allocated, uint64(16<<20), "memory grew with the payload")
}

// 16. A handler whose reader ends early cannot complete its response: the
// call fails with ErrConnection and everything else carries on.
func TestWriteIOFromReaderEndsEarly(t *testing.T) {
	handlerErr := make(chan error, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"short": func(op *master.IOOperator) error {
			err := op.WriteIOFromReader(strings.NewReader("abc"), 100<<10, 0)
			handlerErr <- err
			return err
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	other := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx := callCtx(t)

	_, err := s.Call(ctx, "short", []byte("x"))
	require.ErrorIs(t, err, slave.ErrConnection)
	require.ErrorIs(t, <-handlerErr, io.ErrUnexpectedEOF)

	resp, err := other.Call(ctx, "echo", []byte("master alive"))
	require.NoError(t, err)
	require.Equal(t, "master alive", string(resp))
	resp, err = s.Call(ctx, "echo", []byte("slave alive"))
	require.NoError(t, err)
	require.Equal(t, "slave alive", string(resp))
}

// errAfterReader yields n zero bytes, then err.
type errAfterReader struct {
	n   int
	err error
}

func (r *errAfterReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// A request body that fails, or ends before the size given, fails the call
// promptly (it must not wait for a response the master cannot send) and
// leaves the slave and master working.
func TestCallStreamBodyFails(t *testing.T) {
	var handlerErrs atomic.Int32
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error {
			err := echo(op)
			if err != nil {
				handlerErrs.Add(1)
			}
			return err
		},
		"streamecho": streamEcho,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	errBody := errors.New("body source failed")

	for _, method := range []string{"echo", "streamecho"} {
		for _, tc := range []struct {
			name string
			body io.Reader
			want error
		}{
			{"error", &errAfterReader{n: 100 << 10, err: errBody}, errBody},
			{"short", &errAfterReader{n: 100 << 10, err: io.EOF}, io.ErrUnexpectedEOF},
			{"small short", &errAfterReader{n: 10, err: io.EOF}, io.ErrUnexpectedEOF},
		} {
			// The deadline only guards against a hang: the call must end
			// because of the body, not because of the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			_, err := s.CallStream(ctx, method, tc.body, 1<<20, io.Discard)
			cancel()
			require.ErrorIs(t, err, slave.ErrConnection, "%s %s", method, tc.name)
			require.ErrorIs(t, err, tc.want, "%s %s", method, tc.name)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "%s %s: the call hung until its deadline", method, tc.name)

			resp, err := s.Call(callCtx(t), method, []byte("next"))
			require.NoError(t, err)
			require.Equal(t, "next", string(resp))
		}
	}
}

// The timeout sent with a request is measured from when it is sent, so
// time spent waiting for a pooled connection does not stretch the
// handler's deadline beyond the caller's.
func TestDeadlineSentExcludesPoolWait(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{})
	seen := make(chan time.Time, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"hold": func(op *master.IOOperator) error {
			close(held)
			<-release
			return nil
		},
		"deadline": func(op *master.IOOperator) error {
			dl, ok := op.Deadline()
			if !ok {
				dl = time.Time{}
			}
			seen <- dl
			return nil
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	holdErr := make(chan error, 1)
	go func() {
		_, err := s.Call(callCtx(t), "hold", nil)
		holdErr <- err
	}()
	<-held

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()
	callErr := make(chan error, 1)
	go func() {
		_, err := s.Call(ctx, "deadline", nil)
		callErr <- err
	}()
	require.Eventually(t, func() bool { return s.PoolStats().Waiting > 0 }, hangGuard, time.Millisecond)
	const poolWait = time.Second
	time.Sleep(poolWait) // the second call waits for the connection meanwhile
	close(release)
	require.NoError(t, <-holdErr)
	require.NoError(t, <-callErr)

	handlerDeadline := <-seen
	require.False(t, handlerDeadline.IsZero(), "the handler saw no deadline")
	// The handler's deadline may trail the caller's by the request's transit
	// time, not by the time spent waiting for the pool.
	require.Less(t, handlerDeadline.Sub(callerDeadline), poolWait/2,
		"the handler's deadline is %v after the caller's", handlerDeadline.Sub(callerDeadline))
}

// panicReader yields n bytes, then panics.
type panicReader struct{ n int }

func (r *panicReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		panic("reader gave up")
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// panicWriter accepts n writes, then panics.
type panicWriter struct{ n int }

func (w *panicWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		panic("writer gave up")
	}
	w.n--
	return len(p), nil
}

// 5. A handler that panics halfway through streaming its request or its
// response must not leave the connection out of step: the call fails, and
// no later call sees stray bytes or hangs.
func TestHandlerPanicMidStream(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"midresponse": func(op *master.IOOperator) error {
			return op.WriteIOFromReader(&panicReader{n: 100}, 1000, 0)
		},
		"midrequest": func(op *master.IOOperator) error {
			_, err := op.WriteTo(&panicWriter{n: 2})
			return err
		},
		"echo": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	req := randomBytes(11, 1<<20)

	for _, method := range []string{"midresponse", "midrequest", "midresponse", "midrequest"} {
		// The deadline only guards against a hang.
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		_, err := s.Call(ctx, method, req)
		cancel()
		require.Error(t, err, method)
		require.NotErrorIs(t, err, context.DeadlineExceeded, "%s: the call hung", method)
		require.True(t, errors.Is(err, slave.ErrHandlerPanic) || errors.Is(err, slave.ErrConnection),
			"%s: want ErrHandlerPanic or ErrConnection, got %v", method, err)

		for _, size := range []int{5, 200 << 10} {
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			resp, err := s.Call(ctx, "echo", req[:size])
			cancel()
			require.NoError(t, err, "after %s", method)
			require.Equal(t, sum(req[:size]), sum(resp), "after %s: stray bytes", method)
		}
	}
}
