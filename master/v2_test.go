package master_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/slave"
)

// rawHandshakeV2 opens a raw connection offering version 2 and checks the
// master settles on it.
func rawHandshakeV2(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc := rawDial(t, addr)
	writePreface(t, nc, frame.SlavePreface(2))
	p := readPreface(t, nc)
	require.Equal(t, frame.Preface{Version: 2, Status: frame.HandshakeOK}, p)
	return nc
}

func writeRequestV2(t testing.TB, nc net.Conn, h frame.RequestHeader, block, payload []byte) {
	t.Helper()
	b := make([]byte, frame.RequestHeaderSizeV2)
	if h.Kind == frame.KindRequest {
		h.Metadata, h.Length = uint32(len(block)), uint64(len(payload))
	}
	frame.PutRequestHeaderV2(b, h)
	b = append(append(b, block...), payload...)
	_, err := nc.Write(b)
	require.NoError(t, err)
}

// readResponseV2 reads a version 2 response: header, metadata, payload.
func readResponseV2(t testing.TB, nc net.Conn) (frame.ResponseHeader, metadata.MD, []byte) {
	t.Helper()
	var b [frame.ResponseHeaderSizeV2]byte
	_, err := io.ReadFull(nc, b[:])
	require.NoError(t, err, "reading a response header")
	h, err := frame.ParseResponseHeaderV2(b[:])
	require.NoError(t, err)
	require.LessOrEqual(t, h.Length, uint64(1<<20), "unexpectedly long response")
	block := make([]byte, h.Metadata)
	_, err = io.ReadFull(nc, block)
	require.NoError(t, err)
	md, err := metadata.Parse(block)
	require.NoError(t, err)
	body := make([]byte, h.Length)
	_, err = io.ReadFull(nc, body)
	require.NoError(t, err, "reading a response body")
	return h, md, body
}

func TestNegotiation(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"echo": echo})
	for _, tc := range []struct {
		offer frame.Preface
		want  uint16
	}{
		{frame.Preface{Version: 1}, 1}, // a version 1 slave
		{frame.SlavePreface(1), 1},
		{frame.SlavePreface(2), 2},
		{frame.SlavePreface(7), 2}, // a newer slave gets what the master speaks
	} {
		nc := rawDial(t, addr)
		writePreface(t, nc, tc.offer)
		p := readPreface(t, nc)
		assert.Equal(t, frame.Preface{Version: tc.want, Status: frame.HandshakeOK}, p, "offer %+v", tc.offer)
		_ = nc.Close()
	}
}

// Call IDs are echoed, request metadata reaches the handler, response
// metadata comes back; a cancel frame that crossed its answer is
// ignored.
func TestV2Frames(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"md": func(op *master.IOOperator) error {
			v, _ := op.Metadata().Get("x-in")
			if err := op.SetResponseMetadata(metadata.Pairs("x-out", v+"!")); err != nil {
				return err
			}
			return echo(op)
		},
	})
	nc := rawHandshakeV2(t, addr)
	block := frame.AppendMetadataPair(nil, "x-in", "hello")
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("md"), ID: 1}, block, []byte("p1"))
	h, md, body := readResponseV2(t, nc)
	assert.Equal(t, uint64(1), h.ID)
	assert.Equal(t, frame.StatusOK, h.Status)
	assert.Equal(t, metadata.Pairs("x-out", "hello!"), md)
	assert.Equal(t, "p1", string(body))

	// The slave gave up on call 1 just as its answer arrived.
	writeRequestV2(t, nc, frame.RequestHeader{Kind: frame.KindCancel, ID: 1}, nil, nil)
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("md"), ID: 2}, nil, []byte("p2"))
	h, md, body = readResponseV2(t, nc)
	assert.Equal(t, uint64(2), h.ID)
	assert.Equal(t, metadata.Pairs("x-out", "!"), md)
	assert.Equal(t, "p2", string(body))

	// Unknown methods are answered with the ID too.
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("nope"), ID: 9}, nil, []byte("x"))
	h, _, _ = readResponseV2(t, nc)
	assert.Equal(t, frame.ResponseHeader{Status: frame.StatusUnknownMethod, ID: 9, Length: h.Length}, h)
}

// Frames that break version 2's rules close the connection before any
// handler runs, and a block larger than the limit is refused from its
// header: nothing is read or allocated for it.
func TestV2Violations(t *testing.T) {
	var ran atomic.Int32
	hostileCase(t, master.Config{}, func(t *testing.T, m *master.Master, addr string) {
		require.NoError(t, m.Register("count", master.MethodInfo{}, func(op *master.IOOperator) error {
			ran.Add(1)
			return echo(op)
		}))
		id := frame.MethodID("count")
		for name, send := range map[string]func(nc net.Conn){
			"huge metadata length": func(nc net.Conn) {
				b := make([]byte, frame.RequestHeaderSizeV2)
				frame.PutRequestHeaderV2(b, frame.RequestHeader{Method: id, ID: 1, Metadata: 1<<32 - 1})
				_, _ = nc.Write(b)
			},
			"malformed metadata": func(nc net.Conn) {
				writeRequestV2(t, nc, frame.RequestHeader{Method: id, ID: 1}, []byte("\x03A B\x00\x00"), nil)
			},
			"cancel for a call never sent": func(nc net.Conn) {
				writeRequestV2(t, nc, frame.RequestHeader{Kind: frame.KindCancel, ID: 5}, nil, nil)
			},
			"call ID 0": func(nc net.Conn) {
				writeRequestV2(t, nc, frame.RequestHeader{Method: id, ID: 0}, nil, nil)
			},
		} {
			nc := rawHandshakeV2(t, addr)
			send(nc)
			require.Empty(t, requireEOF(t, nc), name)
			_ = nc.Close()
		}
		// A call ID used twice: the first call is served, the second not.
		nc := rawHandshakeV2(t, addr)
		writeRequestV2(t, nc, frame.RequestHeader{Method: id, ID: 3}, nil, []byte("a"))
		h, _, _ := readResponseV2(t, nc)
		require.Equal(t, uint64(3), h.ID)
		writeRequestV2(t, nc, frame.RequestHeader{Method: id, ID: 3}, nil, []byte("b"))
		require.Empty(t, requireEOF(t, nc))
		require.EqualValues(t, 1, ran.Load(), "only the first call ran")
	})
}

// A version 1 slave gets version 1 frames: no response metadata, and the
// version 1 capabilities body.
func TestV1SlaveGetsV1Frames(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"md": func(op *master.IOOperator) error {
			require.Nil(t, op.Metadata())
			require.NoError(t, op.SetResponseMetadata(metadata.Pairs("x-out", "dropped")))
			return op.WriteIOFromBuffer([]byte("body"))
		},
	})
	nc := rawHandshake(t, addr) // version 1
	writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("md")})
	h, body := readResponse(t, nc)
	assert.Equal(t, frame.ResponseHeader{Status: frame.StatusOK, Length: 4}, h)
	assert.Equal(t, "body", string(body))

	writeRequestHeader(t, nc, frame.RequestHeader{Method: 0})
	_, body = readResponse(t, nc)
	caps, err := frame.ParseCapabilities(body)
	require.NoError(t, err, "a version 1 slave parses the capabilities strictly")
	assert.Equal(t, frame.CapabilitiesEncoding, caps[0].ReturningEncoding)
}

// A cancel frame cancels the handler's context (cause ErrCancelled); the
// handler's error then answers StatusCancelled with the call's ID, and the
// connection carries the next call.
func TestCancelFrameCancelsHandler(t *testing.T) {
	t.Parallel()
	causes := make(chan error, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"wait": func(op *master.IOOperator) error {
			select {
			case <-op.Context().Done():
				causes <- context.Cause(op.Context())
				return op.Context().Err()
			case <-time.After(hangGuard):
				return errors.New("never cancelled")
			}
		},
		"echo": echo,
	})
	nc := rawHandshakeV2(t, addr)
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("wait"), ID: 1}, nil, nil)
	time.Sleep(5 * time.Millisecond) // the handler is waiting
	writeRequestV2(t, nc, frame.RequestHeader{Kind: frame.KindCancel, ID: 1}, nil, nil)
	h, _, msg := readResponseV2(t, nc)
	assert.Equal(t, frame.StatusCancelled, h.Status, "%s", msg)
	assert.Equal(t, uint64(1), h.ID)
	require.ErrorIs(t, <-causes, master.ErrCancelled)

	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("echo"), ID: 2}, nil, []byte("next"))
	h, _, body := readResponseV2(t, nc)
	assert.Equal(t, uint64(2), h.ID)
	assert.Equal(t, "next", string(body))
}

func TestSetResponseMetadataRules(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"m": func(op *master.IOOperator) error {
			errs <- op.SetResponseMetadata(metadata.MD{{Key: "Bad Key", Value: "v"}})
			if err := op.WriteNothing(); err != nil {
				return err
			}
			errs <- op.SetResponseMetadata(metadata.Pairs("late", "v"))
			return nil
		},
	})
	nc := rawHandshakeV2(t, addr)
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("m"), ID: 1}, nil, nil)
	h, md, _ := readResponseV2(t, nc)
	assert.Equal(t, frame.StatusOK, h.Status)
	assert.Nil(t, md)
	assert.ErrorIs(t, <-errs, frame.ErrMetadata)
	assert.ErrorIs(t, <-errs, master.ErrAlreadyResponded)
}

type mwKey struct{}

// Middleware can hand the handler a context with more values (a trace
// span, say); it still ends with the call.
func TestSetContext(t *testing.T) {
	t.Parallel()
	got := make(chan context.Context, 1)
	mw := func(next master.Handler) master.Handler {
		return func(op *master.IOOperator) error {
			op.SetContext(context.WithValue(op.Context(), mwKey{}, "from middleware"))
			return next(op)
		}
	}
	m := master.New(master.Config{Middleware: []master.Middleware{mw}})
	require.NoError(t, m.Register("v", master.MethodInfo{}, func(op *master.IOOperator) error {
		ctx := op.Context()
		assert.Equal(t, "from middleware", ctx.Value(mwKey{}))
		assert.Same(t, op, master.OperatorFrom(ctx))
		assert.Panics(t, func() { op.SetContext(context.Background()) }, "a context from elsewhere")
		got <- ctx
		return nil
	}))
	addr, _ := serveOn(t, m, "127.0.0.1:0")
	nc := rawHandshakeV2(t, addr)
	writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("v"), ID: 1}, nil, nil)
	h, _, _ := readResponseV2(t, nc)
	require.Equal(t, frame.StatusOK, h.Status)
	ctx := <-got
	require.Error(t, ctx.Err(), "ended with the call")
}

// A cancel frame still buffered when a shutdown claims the connection
// crossed its call's answer: the shutdown notice that follows answers no
// call (ID 0), not that call a second time. (Found by review: the notice
// repeated the cancelled call's ID, which a slave takes for a protocol
// violation once its next call is in flight.)
func TestShutdownNoticeAfterCrossedCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	m := master.New(master.Config{})
	require.NoError(t, m.Register("hold", master.MethodInfo{}, func(op *master.IOOperator) error {
		<-release // without reading the payload: no watcher takes the cancel
		return op.WriteNothing()
	}))
	addr, _ := serveOn(t, m, "127.0.0.1:0")
	nc := rawHandshakeV2(t, addr)
	b := make([]byte, frame.RequestHeaderSizeV2)
	frame.PutRequestHeaderV2(b, frame.RequestHeader{Method: frame.MethodID("hold"), ID: 1, Length: 4})
	b = append(b, "data"...)
	cancel := make([]byte, frame.RequestHeaderSizeV2)
	frame.PutRequestHeaderV2(cancel, frame.RequestHeader{Kind: frame.KindCancel, ID: 1})
	_, err := nc.Write(append(b, cancel...))
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond) // the handler holds
	go func() {
		ctx, stop := context.WithTimeout(context.Background(), hangGuard)
		defer stop()
		_ = m.Shutdown(ctx)
	}()
	require.Eventually(t, func() bool { return shutdownBegun(m) }, hangGuard, time.Millisecond)
	close(release)
	h, _, _ := readResponseV2(t, nc)
	assert.Equal(t, frame.ResponseHeader{Status: frame.StatusOK, ID: 1}, h)
	h, _, _ = readResponseV2(t, nc)
	assert.Equal(t, frame.StatusShuttingDown, h.Status)
	assert.Zero(t, h.ID, "the notice answers no call")
}

// A handler's context keeps its own call's metadata: read from another
// goroutine while the connection serves its next call, it neither races
// nor shows the next call's pairs. (Found by review.)
func TestIncomingMetadataStaysWithItsCall(t *testing.T) {
	t.Parallel()
	type seen struct{ want, got string }
	mismatches := make(chan seen, 64)
	var wg sync.WaitGroup
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"m": func(op *master.IOOperator) error {
			ctx := op.Context()
			want, _ := op.Metadata().Get("n")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					if got, _ := metadata.FromIncomingContext(ctx).Get("n"); got != want {
						mismatches <- seen{want, got}
						return
					}
				}
			}()
			return op.WriteNothing()
		},
	})
	nc := rawHandshakeV2(t, addr)
	for i := uint64(1); i <= 50; i++ {
		block := frame.AppendMetadataPair(nil, "n", fmt.Sprint(i))
		writeRequestV2(t, nc, frame.RequestHeader{Method: frame.MethodID("m"), ID: i}, block, nil)
		readResponseV2(t, nc)
	}
	wg.Wait()
	close(mismatches)
	for s := range mismatches {
		t.Errorf("a call's context showed metadata %q, its call had %q", s.got, s.want)
	}
}

// Methods registered as idempotent are listed in version 2 capabilities
// only; the version 1 body is unchanged.
func TestIdempotentInCapabilities(t *testing.T) {
	m, addr := serveMaster(t, master.Config{}, nil)
	require.NoError(t, m.Register("get", master.MethodInfo{Idempotent: true}, echo))
	require.NoError(t, m.Register("put", master.MethodInfo{}, echo))
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	caps, err := s.Capabilities(callCtx(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"get"}, caps.Idempotent())
	assert.True(t, caps.Has(frame.FeatureCancel), "the other features stay")

	s1 := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxProtocolVersion: 1})
	caps1, err := s1.Capabilities(callCtx(t))
	require.NoError(t, err)
	assert.Empty(t, caps1.Features)
	assert.Len(t, caps1.Methods, 3)
}
