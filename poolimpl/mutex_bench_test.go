package poolimpl_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// BenchmarkMutexAcquireRelease measures an Acquire and a Release with
// GOMAXPROCS×g goroutines contending for a pool of MaxSize connections.
func BenchmarkMutexAcquireRelease(b *testing.B) {
	for _, maxSize := range []int{4, 64} {
		for _, g := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("max%d/g%d", maxSize, g), func(b *testing.B) {
				var mu sync.Mutex
				var ends []net.Conn
				dial := func(context.Context) (*conn.Conn, error) {
					a, peer := net.Pipe()
					mu.Lock()
					ends = append(ends, a, peer)
					mu.Unlock()
					return conn.New(a, conn.Config{}), nil
				}
				p, err := poolimpl.NewMutex(poolimpl.MutexConfig{Dial: dial, MaxSize: maxSize})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					_ = p.Close()
					mu.Lock()
					defer mu.Unlock()
					for _, c := range ends {
						_ = c.Close()
					}
				})
				ctx := context.Background()
				b.ReportAllocs()
				b.SetParallelism(g)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c, err := p.Acquire(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						p.Release(c)
					}
				})
			})
		}
	}
}
