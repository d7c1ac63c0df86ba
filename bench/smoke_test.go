package bench

import (
	"testing"
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
