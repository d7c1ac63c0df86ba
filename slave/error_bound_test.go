package slave_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/slave"
)

// boundFake is a master that answers the first request it gets with an
// error status claiming an error message of length bytes and sends none of
// it, keeping the connection open; every later request gets an ok "pong".
// It counts connections and the requests each carried, and reports on
// closedFirst when the slave closes the first connection.
type boundFake struct {
	length      uint64
	accepted    atomic.Int32
	requests    atomic.Int32
	onFirst     atomic.Int32 // requests the first connection carried
	closedFirst chan struct{}
}

func (f *boundFake) serve(nc net.Conn) {
	idx := f.accepted.Add(1)
	var p [frame.PrefaceSize]byte
	frame.PutPreface(p[:], frame.Preface{Version: frame.Version1})
	if _, err := nc.Write(p[:]); err != nil {
		return
	}
	if _, err := io.ReadFull(nc, p[:]); err != nil {
		return
	}
	for {
		var h [frame.RequestHeaderSize]byte
		if _, err := io.ReadFull(nc, h[:]); err != nil {
			if idx == 1 {
				close(f.closedFirst) // the slave closed it (or HangGuard did)
			}
			return
		}
		req, err := frame.ParseRequestHeader(h[:])
		if err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, nc, int64(req.Length)); err != nil {
			return
		}
		if idx == 1 {
			f.onFirst.Add(1)
		}
		reply := response(frame.StatusOK, 0, []byte("pong"))
		if f.requests.Add(1) == 1 {
			// A header alone: the claimed message never comes.
			reply = response(frame.StatusApplicationError, 7, nil)
			binary.BigEndian.PutUint64(reply[8:], f.length)
		}
		if _, err := nc.Write(reply); err != nil {
			return
		}
	}
}

// TestErrorMessageLengthIsBoundedBeforeAllocating: a non-ok answer whose
// header claims an error message longer than frame.MaxErrorMessage is a
// protocol violation, refused from the header alone: the call fails at once
// with ErrProtocol (not waiting for the message, which never comes), the
// slave allocates nothing near the claimed length, and the connection is
// closed, not reused. The length goes up to 2^63, which the slave could not
// allocate even if it tried.
func TestErrorMessageLengthIsBoundedBeforeAllocating(t *testing.T) {
	for _, length := range []uint64{frame.MaxErrorMessage + 1, 1 << 30, 1 << 40, 1 << 63} {
		t.Run(strconv.FormatUint(length, 10), func(t *testing.T) {
			f := &boundFake{length: length, closedFirst: make(chan struct{})}
			addr := testserve.RawTCP(t, f.serve)
			s := dialSlave(t, addr, slave.Config{PoolSize: 1})
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := s.Call(ctx, "anything", []byte("request"))
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)

			allocated := after.TotalAlloc - before.TotalAlloc
			require.Less(t, allocated, uint64(16<<20), "a %d-byte claim made the slave allocate %d bytes", length, allocated)
			require.Less(t, elapsed, 2*time.Second, "the call waited for a message that never comes: %v", err)
			require.ErrorIs(t, err, slave.ErrProtocol)
			require.NotErrorIs(t, err, slave.ErrConnection, "the message was waited for")
			var re *slave.RemoteError
			require.False(t, errors.As(err, &re), "an oversized error message was accepted: %v", err)
			require.ErrorContains(t, err, strconv.FormatUint(length, 10))

			select {
			case <-f.closedFirst:
			case <-time.After(hangGuard):
				t.Fatal("the slave kept the connection the bad answer came on")
			}
			b, err := s.Call(ctx, "anything", []byte("again"))
			require.NoError(t, err)
			require.Equal(t, "pong", string(b))
			require.EqualValues(t, 1, f.onFirst.Load(), "the connection was reused after the bad answer")
			require.EqualValues(t, 2, f.accepted.Load(), "the next call did not get a new connection")
		})
	}
}
