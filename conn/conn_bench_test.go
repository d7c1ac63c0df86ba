package conn_test

import (
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
)

func BenchmarkStale(b *testing.B) {
	a, _ := tcpPair(b)
	c := conn.New(a, conn.Config{})
	b.ReportAllocs()
	for b.Loop() {
		if c.Stale() {
			b.Fatal("healthy connection reported stale")
		}
	}
}

// BenchmarkRequestRoundTripHeaders writes a request header and flushes it
// on one end of a loopback TCP connection and reads it on the other.
func BenchmarkRequestRoundTripHeaders(b *testing.B) {
	a, s := tcpPair(b)
	slave, master := conn.New(a, conn.Config{}), conn.New(s, conn.Config{})
	h := frame.RequestHeader{Method: frame.MethodID("echo"), Length: 0, Timeout: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if err := slave.WriteRequestHeader(h); err != nil {
			b.Fatal(err)
		}
		if err := slave.Flush(); err != nil {
			b.Fatal(err)
		}
		if _, err := master.ReadRequestHeader(); err != nil {
			b.Fatal(err)
		}
	}
}
