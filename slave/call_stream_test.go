package slave_test

import (
	"context"
	"encoding/binary"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// stuckBody yields first bytes, then blocks in Read until release is
// closed; that Read then returns what a slow source might (data, no
// error). It counts its Reads.
type stuckBody struct {
	first   int
	release chan struct{}
	reads   atomic.Int32
	blocked chan struct{} // closed when a Read blocks
}

func newStuckBody(first int) *stuckBody {
	return &stuckBody{first: first, release: make(chan struct{}), blocked: make(chan struct{})}
}

func (b *stuckBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	if b.first > 0 {
		k := min(len(p), b.first)
		clear(p[:k])
		b.first -= k
		return k, nil
	}
	select {
	case <-b.blocked:
	default:
		close(b.blocked)
	}
	<-b.release
	clear(p[:1])
	return 1, nil
}

// count answers with the number of request bytes it read, as 8 bytes.
func count(op *master.IOOperator) error {
	n, err := io.Copy(io.Discard, op)
	if err != nil {
		return err
	}
	return op.WriteIOFromBuffer(binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// A CallStream whose body blocks in Read returns at its deadline or
// cancellation, with the context's error, whatever the body does; the
// body's pending Read is left to finish, and nothing reads the body after
// it: the writer goroutine then exits.
func TestCallStreamBodyBlocks(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"count": count, "echo": echo})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	for _, tc := range []struct {
		name  string
		first int // bytes the body yields before it blocks
		end   func() (context.Context, context.CancelFunc)
		is    error
		want  string
	}{{
		name: "deadline, blocked at once",
		end: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		},
		is:   context.DeadlineExceeded,
		want: `fastrpc: call "count": context deadline exceeded while the request was being sent; the master may have run it`,
	}, {
		name: "deadline, blocked midway", first: 300 << 10,
		end: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		},
		is:   context.DeadlineExceeded,
		want: `fastrpc: call "count": context deadline exceeded while the request was being sent; the master may have run it`,
	}, {
		name: "cancellation, blocked midway", first: 300 << 10,
		end: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		},
		is:   context.Canceled,
		want: `fastrpc: call "count": context canceled while the request was being sent; the master may have run it`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			body := newStuckBody(tc.first)
			ctx, cancel := tc.end()
			defer cancel()
			start := time.Now()
			returned := make(chan error, 1)
			go func() {
				_, err := s.CallStream(ctx, "count", body, 1<<20, io.Discard)
				returned <- err
			}()
			var err error
			select {
			case err = <-returned:
			case <-time.After(hangGuard):
				close(body.release)
				t.Fatal("CallStream waited for its body past its context")
			}
			elapsed := time.Since(start)
			t.Logf("returned after %v: %v", elapsed, err)
			assert.Less(t, elapsed, time.Second)
			require.ErrorIs(t, err, tc.is)
			assert.NotErrorIs(t, err, slave.ErrConnection)
			requireOnePrefix(t, err)
			assert.Equal(t, tc.want, err.Error())

			// The pending Read ends; the body is not read again and the
			// writer goroutine exits (as does the master's for the dropped
			// connection).
			<-body.blocked
			reads := body.reads.Load()
			close(body.release)
			goleak.VerifyNone(t, leaks)
			assert.Equal(t, reads, body.reads.Load(), "the body was read after the call returned")

			// The slave goes on working on a new connection.
			resp, err := s.Call(callCtx(t), "echo", []byte("alive"))
			require.NoError(t, err)
			require.Equal(t, "alive", string(resp))
		})
	}
}

// zeroBody yields n zero bytes without holding them.
type zeroBody struct{ left int64 }

func (z *zeroBody) Read(p []byte) (int, error) {
	if z.left == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), z.left))
	clear(p[:k])
	z.left -= int64(k)
	return k, nil
}

// CallStream takes any size: a slave with the default config uploads
// 100 MiB, over its in-memory MaxRequestSize, to a master method that
// takes any size (master.MethodInfo.MaxRequestSize -1; the master's own default
// limit stays for its other methods).
func TestCallStreamAnySize(t *testing.T) {
	const size = 100 << 20
	require.Greater(t, int64(size), int64(frame.DefaultMaxPayload))
	m := master.New(master.Config{})
	require.NoError(t, m.Register("count", master.MethodInfo{MaxRequestSize: -1}, count))
	addr := testserve.Serve(t, m).String()
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	var resp bytesWriter
	n, err := s.CallStream(callCtx(t), "count", &zeroBody{left: size}, size, &resp)
	require.NoError(t, err)
	require.EqualValues(t, 8, n)
	require.EqualValues(t, size, binary.BigEndian.Uint64(resp))
}

// MaxStreamRequestSize bounds CallStream's request, and like
// MaxRequestSize refuses before anything is sent or read.
func TestCallStreamLimit(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{"count": count})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, MaxStreamRequestSize: 1 << 20, MaxRequestSize: 10})

	_, err := s.CallStream(callCtx(t), "count", failReader{t}, 2<<20, io.Discard)
	requireOnePrefix(t, err)
	assert.ErrorIs(t, err, slave.ErrRequestTooLarge)
	assert.Equal(t, `fastrpc: call "count": request too large: 2097152 bytes, the slave's MaxStreamRequestSize is 1048576; nothing was sent`, err.Error())

	// MaxRequestSize (10) does not bound a stream.
	var resp bytesWriter
	_, err = s.CallStream(callCtx(t), "count", &zeroBody{left: 1 << 20}, 1<<20, &resp)
	require.NoError(t, err)
	require.EqualValues(t, 1<<20, binary.BigEndian.Uint64(resp))
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
