package bench

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
)

// TestEcho checks that every system echoes small and large payloads byte
// for byte, from several callers, and streams when it can. It is quick
// enough for -short.
func TestEcho(t *testing.T) {
	if TypedNote != "" {
		t.Log(TypedNote)
	}
	for _, sys := range Systems() {
		t.Run(sys.Name, func(t *testing.T) {
			srv, err := sys.Serve()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cl, err := sys.Dial(srv.Addr(), 2)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for i := range 2 {
				for _, size := range []int{0, 32, 100 << 10, 1 << 20} {
					if err := CheckEcho(cl.Caller(i), Payload(size)); err != nil {
						t.Fatalf("caller %d, %d bytes: %v", i, size, err)
					}
				}
			}
			if sys.Stream == nil {
				return
			}
			const size = 3<<20 + 17
			n, err := sys.Stream(srv.Addr(), size)
			if err != nil {
				t.Fatal(err)
			}
			if n != size {
				t.Fatalf("streamed %d bytes, the server counted %d", size, n)
			}
		})
	}
}

// TestMetadataArrives checks that the metadata row's calls carry
// MetadataPairs to the master: the same callers, calling a method that
// compares IOOperator.Metadata with the pairs before echoing.
func TestMetadataArrives(t *testing.T) {
	want := metadata.Pairs(MetadataPairs...)
	srv, err := serveFastRpc(func(m *master.Master) error {
		return m.Register("md-echo", master.MethodInfo{}, func(op *master.IOOperator) error {
			if got := op.Metadata(); !slices.Equal(got, want) {
				return fmt.Errorf("metadata %v, want %v", got, want)
			}
			return EchoHandler(op)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := dialFastRpcMetadata(srv.Addr(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 2 {
		c := cl.Caller(i).(*fastrpcMDCaller)
		req := Payload(32)
		out, err := c.s.CallAppend(c.ctx, "md-echo", req, nil)
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if !bytes.Equal(out, req) {
			t.Fatalf("caller %d: %d bytes sent, %d different bytes back", i, len(req), len(out))
		}
	}
}
