package bench

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkEcho32 is one caller echoing 32-byte payloads through each
// system, client and server in this process: compare systems, or commits,
// with benchstat.
func BenchmarkEcho32(b *testing.B) {
	for _, sys := range Systems() {
		b.Run(sys.Name, func(b *testing.B) {
			cl := start(b, sys, 1)
			c := cl.Caller(0)
			req := Payload(32)
			dst := make([]byte, 0, 32)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = echoOnce(c, req, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEcho32Parallel is 64 callers (GOMAXPROCS*32 goroutines on two
// cores) echoing 32-byte payloads.
func BenchmarkEcho32Parallel(b *testing.B) {
	for _, sys := range Systems() {
		b.Run(sys.Name, func(b *testing.B) {
			const par = 32
			callers := par * runtime.GOMAXPROCS(0) // RunParallel's goroutines
			cl := start(b, sys, callers)
			var next atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := cl.Caller(int(next.Add(1)-1) % callers)
				req := Payload(32)
				dst := make([]byte, 0, 32)
				for pb.Next() {
					var err error
					if dst, err = echoOnce(c, req, dst[:0]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func start(b *testing.B, sys System, callers int) Client {
	b.Helper()
	srv, err := sys.Serve()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	cl, err := sys.Dial(srv.Addr(), callers)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	return cl
}
