package cluster_test

import (
	"context"
	"testing"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// BenchmarkCall compares a call through a cluster client over three
// masters with a call through a slave to one: the difference is what the
// cluster layer costs (picking, accounting).
func BenchmarkCall(b *testing.B) {
	var addrs []string
	for range 3 {
		m := master.New(master.Config{})
		if err := m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
			return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 0)
		}); err != nil {
			b.Fatal(err)
		}
		addr, _ := testserve.Start(b, m, "127.0.0.1:0")
		addrs = append(addrs, addr.String())
	}
	req := []byte("0123456789abcdef0123456789abcdef")
	run := func(b *testing.B, call func(ctx context.Context, dst []byte) ([]byte, error)) {
		ctx := context.Background()
		buf := make([]byte, 0, 64)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out, err := call(ctx, buf[:0])
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	}
	b.Run("slave", func(b *testing.B) {
		s, err := slave.New(slave.Config{Address: addrs[0], PoolSize: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, func(ctx context.Context, dst []byte) ([]byte, error) { return s.CallAppend(ctx, "echo", req, dst) })
	})
	b.Run("cluster", func(b *testing.B) {
		c, err := cluster.New(cluster.Config{Resolver: &cluster.Static{Addresses: addrs}, Slave: slave.Config{PoolSize: 1}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, func(ctx context.Context, dst []byte) ([]byte, error) { return c.CallAppend(ctx, "echo", req, dst) })
	})
}
