package transport_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/transport"
)

// BenchmarkRoundTrip is one call at a time, a 32-byte request echoed back,
// over each transport on this host: what a unix socket saves over TCP
// loopback, and what TLS costs once connected.
func BenchmarkRoundTrip(b *testing.B) {
	p := newPKI(b)
	cases := []struct {
		name string
		make func(b *testing.B) (conn.Listener, conn.Dialer)
	}{
		{"tcp", func(*testing.B) (conn.Listener, conn.Dialer) {
			return &transport.TCPListener{Address: "127.0.0.1:0"}, &transport.TCPDialer{}
		}},
		{"unix", func(b *testing.B) (conn.Listener, conn.Dialer) {
			return &transport.UnixListener{Path: sockPath(b)}, &transport.UnixDialer{}
		}},
		{"tls", func(*testing.B) (conn.Listener, conn.Dialer) {
			return &transport.TLSListener{Address: "127.0.0.1:0", CertFile: p.serverCert, KeyFile: p.serverKey},
				&transport.TLSDialer{CAFile: p.caFile}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			l, d := c.make(b)
			m, addr := serve(b, l, master.Config{})
			// Streams the request back as the response: no allocation.
			require.NoError(b, m.Register("echo32", master.MethodInfo{}, func(op *master.IOOperator) error {
				return op.WriteIOFromReader(op, int(op.ReadDataLeft()), 0)
			}))
			s := newSlave(b, d, addr)
			ctx := context.Background()
			req := make([]byte, 32)
			resp := make([]byte, 0, 32)
			resp, err := s.CallAppend(ctx, "echo32", req, resp[:0]) // connect
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if resp, err = s.CallAppend(ctx, "echo32", req, resp[:0]); err != nil {
					b.Fatal(err)
				}
			}
			if len(resp) != len(req) {
				b.Fatalf("got %d bytes back, want %d", len(resp), len(req))
			}
		})
	}
}
