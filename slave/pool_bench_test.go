package slave_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/AmanTrance/FastRpc/slave"
)

// BenchmarkPoolCall measures whole round trips to a loopback master with
// each pool: Call (allocates its response) and CallAppend (reuses a
// buffer), from g goroutines (exactly g) sharing a pool of 4, so g8
// includes waiting for a connection.
func BenchmarkPoolCall(b *testing.B) {
	_, addr := poolMaster(b, "127.0.0.1:0")
	req := randomBytes(9, 128)
	for _, k := range poolKinds {
		for _, op := range []string{"Call", "CallAppend"} {
			for _, g := range []int{1, 8} {
				b.Run(fmt.Sprintf("pool=%s/%s/g%d", k.name, op, g), func(b *testing.B) {
					ctx := context.Background()
					s, err := slave.Dial(ctx, slave.Config{Address: addr, PoolSize: 4, Pool: k.pool})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = s.Close() })
					b.SetBytes(int64(2 * len(req)))
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
							dst := make([]byte, 0, 2*len(req))
							for range n {
								var out []byte
								var err error
								if op == "Call" {
									out, err = s.Call(ctx, "echo", req)
								} else {
									out, err = s.CallAppend(ctx, "echo", req, dst[:0])
								}
								if err != nil || len(out) != len(req) {
									b.Errorf("%v, %d bytes", err, len(out))
									return
								}
							}
						}()
					}
					wg.Wait()
				})
			}
		}
	}
}
