package poolimpl_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// BenchmarkAcquireRelease measures one Acquire and one Release of an idle
// connection with g goroutines (exactly g, not GOMAXPROCS×g) sharing a
// pool of size connections: with g > size, callers wait for each other.
// Connections are net.Pipe ends, so Stale costs no system call and the
// numbers are the pools' own overhead.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, k := range kinds {
		for _, size := range []int{4, 64} {
			for _, g := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("pool=%s/size=%d/g%d", k.name, size, g), func(b *testing.B) {
					d := newPipeDialer(b)
					p, err := k.factory(poolimpl.Options{})(d.dial, size)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = p.Close() })
					ctx := context.Background()
					// Open every connection the run will use first.
					for range 2 {
						c, err := p.Acquire(ctx)
						if err != nil {
							b.Fatal(err)
						}
						p.Release(c)
					}
					b.ReportAllocs()
					b.ResetTimer()
					var wg sync.WaitGroup
					for i := range g {
						n := b.N / g
						if i < b.N%g {
							n++
						}
						wg.Add(1)
						go func() {
							defer wg.Done()
							for range n {
								c, err := p.Acquire(ctx)
								if err != nil {
									b.Error(err)
									return
								}
								p.Release(c)
							}
						}()
					}
					wg.Wait()
				})
			}
		}
	}
}
