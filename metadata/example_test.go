package metadata_test

import (
	"context"
	"fmt"
	"net"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/slave"
)

// A request ID travels with the call; the handler answers with its own
// pair, which the caller captures.
func Example() {
	m := master.New(master.Config{})
	_ = m.Register("hello", master.MethodInfo{}, func(op *master.IOOperator) error {
		id, _ := op.Metadata().Get("x-request-id")
		if err := op.SetResponseMetadata(metadata.Pairs("x-served-for", id)); err != nil {
			return err
		}
		return op.WriteIOFromBuffer([]byte("hello"))
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = m.Serve(context.Background(), ln) }()
	defer m.Close()

	s, _ := slave.New(slave.Config{Address: ln.Addr().String()})
	defer s.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "X-Request-ID", "req-42")
	var back metadata.MD
	out, err := s.Call(metadata.CaptureResponse(ctx, &back), "hello", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	served, _ := back.Get("x-served-for")
	fmt.Println(string(out), served)
	// Output: hello req-42
}

func ExamplePairs() {
	md := metadata.Pairs("Authorization", "Bearer t0k", "x-tag", "a", "x-tag", "b")
	v, _ := md.Get("authorization")
	fmt.Println(v, md.Values("X-Tag"), md.Check() == nil)
	// Output: Bearer t0k [a b] true
}
