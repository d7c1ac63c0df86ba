package systemtest_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// TestSoak runs thousands of goroutines with random payload sizes and
// random deadlines against one master for a bounded time (FASTRPC_SOAK:
// 2000 callers for that long; without it 256 callers for 3s), checking
// every payload's checksum, and that goroutines and heap are flat at the
// end.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	// The default run is a short, light one for `go test -race ./...` on any
	// machine; .ci/run sets FASTRPC_SOAK for the real thing.
	dur, callers := 3*time.Second, 256
	if v := os.Getenv("FASTRPC_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "FASTRPC_SOAK")
		dur, callers = d, 2000
	}
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	goroutines0 := runtime.NumGoroutine()

	m := master.New(master.Config{})
	require.NoError(t, m.Register("sum", master.MethodInfo{}, sumHandler))
	addr, served := testserve.Start(t, m, "127.0.0.1:0")
	s, err := slave.Dial(context.Background(), slave.Config{Address: addr.String(), PoolSize: 64})
	require.NoError(t, err)

	var calls, ok, deadline, corrupt atomic.Int64
	var other sync.Map
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; time.Now().Before(end); i++ {
				size := 8 + rng.IntN(1<<uint(rng.IntN(17)))
				req := make([]byte, size)
				binary.BigEndian.PutUint64(req, uint64(g)<<32|uint64(i))
				for j := 8; j < size; j += 8 {
					req[j] = byte(rng.Uint32())
				}
				// Mostly generous deadlines, and some too short to make it.
				timeout := time.Duration(200+rng.IntN(2000)) * time.Millisecond
				if rng.IntN(10) == 0 {
					timeout = time.Duration(1+rng.IntN(5)) * time.Millisecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				resp, err := s.Call(ctx, "sum", req)
				cancel()
				calls.Add(1)
				switch {
				case err == nil:
					if checkSum(req, resp) != nil {
						corrupt.Add(1)
					} else {
						ok.Add(1)
					}
				case errors.Is(err, context.DeadlineExceeded):
					deadline.Add(1)
				default:
					other.Store(err.Error(), true)
				}
			}
		}()
	}
	wg.Wait()
	other.Range(func(k, _ any) bool { t.Errorf("unexpected error: %v", k); return true })
	require.Zero(t, corrupt.Load(), "no call may receive bytes that are not its own")
	require.Positive(t, ok.Load())
	require.Equal(t, calls.Load(), ok.Load()+deadline.Load(), "every call ends with its result or its deadline")
	t.Logf("soak %v, %d callers: %d calls, %d correct, %d ended at their deadline, 0 corrupted, 0 lost", dur, callers, calls.Load(), ok.Load(), deadline.Load())

	require.NoError(t, s.Close())
	require.NoError(t, m.Close())
	require.NoError(t, <-served)
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines0+2 }, 10*time.Second, 10*time.Millisecond,
		"goroutines: %d before, %d after", goroutines0, runtime.NumGoroutine())
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	require.Less(t, int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc), int64(16<<20), "heap is flat after the soak")
}
