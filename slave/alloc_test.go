package slave_test

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

type runtimeMemStats struct{ runtime.MemStats }

func (m *runtimeMemStats) read() { runtime.ReadMemStats(&m.MemStats) }

// 23. A call with a reused buffer allocates nothing, counting both sides:
// AllocsPerRun counts every allocation in the process, so the master's
// connection goroutine is included.
func TestCallAppendAllocatesNothing(t *testing.T) {
	// Each connection reuses its own buffer; IOOperators are per
	// connection, so they key it.
	var mu sync.Mutex
	bufs := map[*master.IOOperator][]byte{}
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error {
			n := int(op.ReadDataLeft())
			mu.Lock()
			buf := bufs[op]
			if cap(buf) < n {
				buf = make([]byte, n)
				bufs[op] = buf
			}
			mu.Unlock()
			buf = buf[:n]
			if _, err := io.ReadFull(op, buf); err != nil {
				return err
			}
			return op.WriteIOFromBuffer(buf)
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})

	req := make([]byte, 128)
	for i := range req {
		req[i] = byte(i)
	}
	dst := make([]byte, 0, 256)
	var failures int
	call := func() {
		out, err := s.CallAppend(context.Background(), "echo", req, dst[:0])
		if err != nil || len(out) != len(req) || &out[0] != &dst[:1][0] {
			failures++
		}
	}
	for range 50 { // warm up both sides
		call()
	}
	allocs := testing.AllocsPerRun(500, call)
	require.Zero(t, failures, "calls failed or did not reuse dst")
	t.Logf("allocations per call (slave + master): %v", allocs)
	require.Zero(t, allocs, "CallAppend with a reused buffer should not allocate")
}

// A call whose context can end costs the slave and the master only what
// context.AfterFunc allocates (two objects) to watch for that end; the
// rest of the cancellation machinery is pooled. (The caller's own
// context.WithTimeout allocates four more, which are the caller's.)
func TestCallAppendWithDeadlineAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race; README's test command runs this without it")
	}
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"nothing": func(op *master.IOOperator) error { return op.WriteNothing() },
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	dst := make([]byte, 0, 64)
	var failures int
	call := func() {
		if _, err := s.CallAppend(ctx, "nothing", nil, dst[:0]); err != nil {
			failures++
		}
	}
	for range 50 {
		call()
	}
	allocs := testing.AllocsPerRun(500, call)
	require.Zero(t, failures)
	t.Logf("allocations per call with a deadline (slave + master): %v", allocs)
	require.LessOrEqual(t, allocs, 2.0, "a cancellable call should cost only context.AfterFunc's allocations")
}
