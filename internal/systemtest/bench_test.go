package systemtest_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

const smallSize = 512

var smallBufs = sync.Pool{New: func() any { return new([smallSize]byte) }}

// benchPeer starts a master with an echo handler that reuses a buffer per
// connection, and a slave with the given pool size.
func benchPeer(b *testing.B, poolSize int) *slave.Slave {
	b.Helper()
	m := master.New(master.Config{})
	err := m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		// A handler that reuses its buffers allocates nothing per call.
		if n := int(op.ReadDataLeft()); n <= smallSize {
			buf := smallBufs.Get().(*[smallSize]byte)
			defer smallBufs.Put(buf)
			if _, err := io.ReadFull(op, buf[:n]); err != nil {
				return err
			}
			return op.WriteIOFromBuffer(buf[:n])
		}
		return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 0)
	})
	if err != nil {
		b.Fatal(err)
	}
	addr := testserve.Serve(b, m)
	s, err := slave.Dial(context.Background(), slave.Config{Address: addr.String(), PoolSize: poolSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkCall is one caller, echoing payloads of several sizes; the
// response slice is the only allocation.
func BenchmarkCall(b *testing.B) {
	for _, size := range []int{32, 4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := benchPeer(b, 1)
			req := make([]byte, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Call(ctx, "echo", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallAppend reuses the response buffer: no allocation per call
// on either side.
func BenchmarkCallAppend(b *testing.B) {
	s := benchPeer(b, 1)
	req := make([]byte, 32)
	dst := make([]byte, 0, 64)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.CallAppend(ctx, "echo", req, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallParallel is 64 callers over a pool of 8 connections.
func BenchmarkCallParallel(b *testing.B) {
	s := benchPeer(b, 8)
	req := make([]byte, 32)
	b.SetParallelism(32) // 2 cores * 32 = 64 goroutines
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, 64)
		ctx := context.Background()
		for pb.Next() {
			var err error
			if dst, err = s.CallAppend(ctx, "echo", req, dst[:0]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
