package fastrpcprom_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/fastrpcprom"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/middleware"
)

// TestObserveNoAlloc checks that observing a call allocates nothing once
// its method and status have been seen, on both sides, sizes included. It
// holds under the race detector too, so it is not skipped there.
func TestObserveNoAlloc(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{Sizes: true})
	require.NoError(t, err)
	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	method := string([]byte("echo")) // a string made at run time, as the master's are
	for _, st := range []frame.Status{frame.StatusOK, frame.StatusApplicationError} {
		sm.ObserveCall(method, st, time.Millisecond, 10, 20)
	}
	cm.ObserveCall(method, middleware.StatusNoAnswer, time.Millisecond, 10, 0)

	allocs := testing.AllocsPerRun(1000, func() {
		sm.ObserveCall(method, frame.StatusOK, 300*time.Microsecond, 10, 20)
		sm.ObserveCall(method, frame.StatusApplicationError, 2*time.Millisecond, 10, 20)
		cm.ObserveCall(method, middleware.StatusNoAnswer, time.Second, 10, 0)
	})
	require.Zero(t, allocs, "allocations per observation after warm-up")
}

func BenchmarkObserveCall(b *testing.B) {
	sm, err := fastrpcprom.NewServerMetrics(prometheus.NewRegistry(), fastrpcprom.Options{})
	require.NoError(b, err)
	methods := []string{"alpha", "beta", "gamma", "delta"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			sm.ObserveCall(methods[i%len(methods)], frame.StatusOK, time.Millisecond, 10, 20)
			i++
		}
	})
}
