package master_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// A master serves named methods. Here "echo" reads the whole request and
// writes it back as the response.
func ExampleMaster_Register() {
	m := master.New(master.Config{})
	err := m.Register("echo", master.MethodInfo{
		Description:       "returns its request",
		IncomingEncoding:  "application/octet-stream",
		ReturningEncoding: "application/octet-stream",
	}, func(op *master.IOOperator) error {
		req, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(req)
	})
	if err != nil {
		fmt.Println("register:", err)
		return
	}

	// Port 0 picks a free port; the listener tells which.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	go func() { _ = m.Serve(context.Background(), ln) }()
	defer m.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := slave.Dial(ctx, slave.Config{Address: ln.Addr().String(), PoolSize: 1})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}

	resp, err := s.Call(ctx, "echo", []byte("hello, master"))
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	fmt.Printf("%s\n", resp)

	// Graceful stop: Shutdown waits for calls in flight, then closes the
	// connections (at once if the slaves have hung up already).
	_ = s.Close()
	fmt.Println("shutdown:", m.Shutdown(ctx))
	// Output:
	// hello, master
	// shutdown: <nil>
}
