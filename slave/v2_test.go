package slave_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
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
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/slave"
)

// Metadata goes out with a call, reaches the handler on its IOOperator
// and its context, and the handler's response metadata comes back to a
// caller that asked for it.
func TestMetadataRoundTrip(t *testing.T) {
	type seen struct{ op, ctx metadata.MD }
	got := make(chan seen, 4)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"md": func(op *master.IOOperator) error {
			got <- seen{op.Metadata(), metadata.FromIncomingContext(op.Context())}
			if err := op.SetResponseMetadata(metadata.Pairs("x-request-id", "r-1", "server-timing", "db;dur=3")); err != nil {
				return err
			}
			return echo(op)
		},
		"plain": echo,
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	ctx := metadata.AppendToOutgoingContext(callCtx(t), "Authorization", "Bearer t0k", "x-id", "1")
	ctx = metadata.AppendToOutgoingContext(ctx, "x-id", "\x00\xff")
	var back metadata.MD
	out, err := s.Call(metadata.CaptureResponse(ctx, &back), "md", []byte("payload"))
	require.NoError(t, err)
	assert.Equal(t, "payload", string(out))
	want := metadata.MD{{Key: "authorization", Value: "Bearer t0k"}, {Key: "x-id", Value: "1"}, {Key: "x-id", Value: "\x00\xff"}}
	g := <-got
	assert.Equal(t, want, g.op, "on the IOOperator, keys lower-cased, order and repeats kept")
	assert.Equal(t, want, g.ctx, "on the handler's context")
	assert.Equal(t, []string{"1", "\x00\xff"}, g.op.Values("X-Id"))
	assert.Equal(t, metadata.Pairs("x-request-id", "r-1", "server-timing", "db;dur=3"), back)

	// The same connection, without metadata: the handler sees none, and
	// a response's metadata nobody asked for is dropped unread.
	out, err = s.Call(callCtx(t), "md", []byte("again"))
	require.NoError(t, err)
	assert.Equal(t, "again", string(out))
	g = <-got
	assert.Nil(t, g.op)
	assert.Nil(t, g.ctx)
	back = metadata.MD{{Key: "stale", Value: "x"}}
	_, err = s.Call(metadata.CaptureResponse(callCtx(t), &back), "plain", nil)
	require.NoError(t, err)
	assert.Nil(t, back, "a response without metadata leaves none")
	assert.Equal(t, 1, s.PoolStats().Open, "one connection served every call")
}

// Metadata over the limits, or with a key that cannot be sent, is refused
// before anything is sent; the connection stays.
func TestMetadataLimitsRefusedBeforeSending(t *testing.T) {
	var ran atomic.Int32
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error { ran.Add(1); return echo(op) },
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	many := make([]string, 0, 2*(frame.MaxMetadataPairs+1))
	for range frame.MaxMetadataPairs + 1 {
		many = append(many, "k", "v")
	}
	for name, md := range map[string]metadata.MD{
		"too many pairs": metadata.Pairs(many...),
		"too many bytes": metadata.Pairs("big", strings.Repeat("v", frame.MaxMetadataSize)),
		"bad key":        {{Key: "no spaces", Value: "v"}},
		"empty key":      {{Key: "", Value: "v"}},
	} {
		_, err := s.Call(metadata.NewOutgoingContext(callCtx(t), md), "echo", nil)
		require.ErrorIs(t, err, frame.ErrMetadata, name)
		assert.Contains(t, err.Error(), "nothing was sent", name)
		requireOnePrefix(t, err)
	}
	assert.Zero(t, ran.Load(), "no handler ran")
	_, err := s.Call(callCtx(t), "echo", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, s.PoolStats().Open)
}

// v2Master serves a fake version 2 master on loopback: it negotiates
// version 2, then runs serve on the connection.
func v2Master(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	return testserve.RawTCP(t, func(c net.Conn) {
		var p [frame.PrefaceSize]byte
		if _, err := io.ReadFull(c, p[:]); err != nil {
			return
		}
		sp, err := frame.ParsePreface(p[:])
		if err != nil || frame.Negotiate(sp, 2) != 2 {
			return
		}
		frame.PutPreface(p[:], frame.Preface{Version: 2})
		if _, err := c.Write(p[:]); err != nil {
			return
		}
		serve(c)
	})
}

// readRequestV2 reads a version 2 request and skips its metadata and
// payload.
func readRequestV2(c net.Conn) (frame.RequestHeader, error) {
	var b [frame.RequestHeaderSizeV2]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return frame.RequestHeader{}, err
	}
	h, err := frame.ParseRequestHeaderV2(b[:])
	if err != nil {
		return h, err
	}
	_, err = io.CopyN(io.Discard, c, int64(h.Metadata)+int64(h.Length))
	return h, err
}

func responseV2(h frame.ResponseHeader, payload string) []byte {
	b := make([]byte, frame.ResponseHeaderSizeV2, frame.ResponseHeaderSizeV2+len(payload))
	h.Length = uint64(len(payload))
	frame.PutResponseHeaderV2(b, h)
	return append(b, payload...)
}

// A master that answers a call twice: the extra answer arrives when the
// next call is on its way, and is a protocol violation that closes the
// connection; it is never delivered as the next call's answer.
func TestResponseWithWrongCallID(t *testing.T) {
	addr := v2Master(t, func(c net.Conn) {
		h, err := readRequestV2(c)
		if err != nil {
			return
		}
		// The answer, then an extra one for the same call.
		_, _ = c.Write(responseV2(frame.ResponseHeader{ID: h.ID}, "first"))
		if _, err := readRequestV2(c); err != nil {
			return
		}
		_, _ = c.Write(responseV2(frame.ResponseHeader{ID: h.ID}, "extra"))
		_, _ = io.Copy(io.Discard, c)
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	out, err := s.Call(callCtx(t), "m", []byte("1"))
	require.NoError(t, err)
	require.Equal(t, "first", string(out))

	out, err = s.Call(callCtx(t), "m", []byte("2"))
	require.ErrorIs(t, err, slave.ErrProtocol)
	require.ErrorContains(t, err, "another call than the one in flight")
	assert.Empty(t, out, "the extra answer is not the call's")
	requireOnePrefix(t, err)
	assert.Zero(t, s.PoolStats().Open, "the connection is closed")
}

// A response header claiming a metadata block over the limit is refused
// from the header alone.
func TestResponseMetadataOverLimit(t *testing.T) {
	addr := v2Master(t, func(c net.Conn) {
		h, err := readRequestV2(c)
		if err != nil {
			return
		}
		b := make([]byte, frame.ResponseHeaderSizeV2)
		frame.PutResponseHeaderV2(b, frame.ResponseHeader{ID: h.ID, Metadata: 1<<32 - 1})
		_, _ = c.Write(b)
		_, _ = io.Copy(io.Discard, c)
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	_, err := s.Call(callCtx(t), "m", nil)
	require.ErrorIs(t, err, slave.ErrProtocol)
	require.ErrorIs(t, err, frame.ErrMetadata)
	requireOnePrefix(t, err)
}

// Cancelling a call sends a cancel frame: the handler's context is
// cancelled with master.ErrCancelled, the caller returns at once, and the
// connection comes back to the pool once the master's answer (status
// cancelled) has been read: no new dials.
func TestCancelReachesHandlerAndKeepsConnection(t *testing.T) {
	causes := make(chan error, 64)
	var cancelledAt atomic.Int64 // when the caller cancelled, UnixNano
	var lags []time.Duration     // from the caller's cancel to the handler's
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"wait": func(op *master.IOOperator) error {
			// The master watches for a cancel frame once the request is
			// read: it comes after the request's payload.
			if _, err := op.ReadAll(); err != nil {
				return err
			}
			select {
			case <-op.Context().Done():
				lags = append(lags, time.Duration(time.Now().UnixNano()-cancelledAt.Load()))
				causes <- context.Cause(op.Context())
				return op.Context().Err()
			case <-time.After(hangGuard):
				causes <- errors.New("never cancelled")
				return nil
			}
		},
		"echo": echo,
	})
	d := &countingDialer{}
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, Dialer: d})
	const calls = 20
	for range calls {
		ctx, cancel := context.WithCancel(callCtx(t))
		stop := time.AfterFunc(5*time.Millisecond, func() {
			cancelledAt.Store(time.Now().UnixNano())
			cancel()
		})
		_, err := s.Call(ctx, "wait", []byte("x"))
		stop.Stop()
		cancel()
		require.ErrorIs(t, err, context.Canceled)
		select {
		case cause := <-causes:
			require.ErrorIs(t, cause, master.ErrCancelled)
		case <-time.After(hangGuard):
			t.Fatal("the handler's context was never cancelled")
		}
	}
	out, err := s.Call(callCtx(t), "echo", []byte("after"))
	require.NoError(t, err)
	assert.Equal(t, "after", string(out))
	assert.EqualValues(t, 1, d.n.Load(), "every cancelled call kept the one connection")
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	t.Logf("the handler's context ended after the caller's cancel by: median %v, max %v", lags[len(lags)/2], lags[len(lags)-1])
}

// The load: 64 callers with 1 ms deadlines against a handler that
// takes 0 to 3 ms and honours its context. Timed-out calls cost no new
// connections. FASTRPC_DEADLINE_LOAD=N makes N calls per caller instead
// of 40 (160: the 10,000 calls).
func TestDeadlineLoadKeepsConnections(t *testing.T) {
	const callers = 64
	perCaller := 40
	if n, err := strconv.Atoi(os.Getenv("FASTRPC_DEADLINE_LOAD")); err == nil && n > 0 {
		perCaller = n
	}
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"work": func(op *master.IOOperator) error {
			d := time.Duration(rand.IntN(3001)) * time.Microsecond
			select {
			case <-time.After(d):
				return op.WriteNothing()
			case <-op.Context().Done():
				return op.Context().Err()
			}
		},
	})
	d := &countingDialer{}
	s := dialSlave(t, addr, slave.Config{PoolSize: callers, Dialer: d})
	warm := d.n.Load()
	var timedOut, ok atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perCaller {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				_, err := s.Call(ctx, "work", nil)
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, context.DeadlineExceeded):
					timedOut.Add(1)
				default:
					t.Errorf("call: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	newDials := d.n.Load() - warm
	t.Logf("%d calls: %d ok, %d timed out; %d new dials", callers*perCaller, ok.Load(), timedOut.Load(), newDials)
	// Not a timing assertion: dials are counted. A connection is dropped
	// only when an answer takes over a second to arrive.
	assert.LessOrEqual(t, newDials, timedOut.Load()/50, "timed-out calls cost new connections")
}

// Middleware that invokes a call twice (a retry policy), the second time
// without the metadata of the first: each invocation sends its own
// context's metadata, nothing of the first leaks into the second, and the
// second's response replaces the first's.
func TestMiddlewareReinvokesWithOtherMetadata(t *testing.T) {
	seen := make(chan metadata.MD, 2)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error { seen <- op.Metadata(); return echo(op) },
	})
	bare := context.Background()
	twice := func(next slave.Invoker) slave.Invoker {
		return func(ctx context.Context, info *slave.CallInfo) error {
			if err := next(metadata.AppendToOutgoingContext(ctx, "attempt", "1"), info); err != nil {
				return err
			}
			return next(bare, info)
		}
	}
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, Middleware: []slave.Middleware{twice}})
	out, err := s.Call(callCtx(t), "echo", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(out))
	assert.Equal(t, metadata.Pairs("attempt", "1"), <-seen)
	assert.Nil(t, <-seen)
}
