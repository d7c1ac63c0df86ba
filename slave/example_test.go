package slave_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// exampleMaster serves "greet", "upper" and "slow" on a free loopback port
// and returns the master and that port's address.
func exampleMaster() (*master.Master, string) {
	m := master.New(master.Config{})
	_ = m.Register("greet", master.MethodInfo{}, func(op *master.IOOperator) error {
		name, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer([]byte("hello, " + string(name)))
	})
	_ = m.Register("upper", master.MethodInfo{}, func(op *master.IOOperator) error {
		// Streams: the response is written while the request is read, a
		// chunk at a time, so any size fits in bounded memory.
		return op.WriteIOFromReader(upperReader{op}, int(op.ReadDataLeft()), 0)
	})
	_ = m.Register("slow", master.MethodInfo{}, func(op *master.IOOperator) error {
		// A well-behaved handler gives up when the caller's deadline,
		// which travelled with the request, passes.
		select {
		case <-op.Context().Done():
			return op.Context().Err()
		case <-time.After(time.Minute):
			return op.WriteNothing()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = m.Serve(context.Background(), ln) }()
	return m, ln.Addr().String()
}

type upperReader struct{ r *master.IOOperator }

func (u upperReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	copy(p, bytes.ToUpper(p[:n]))
	return n, err
}

// A deadline on the context bounds the call and travels to the master, so
// the handler knows how long the caller will wait.
func ExampleSlave_Call() {
	m, addr := exampleMaster()
	defer m.Close()

	s, err := slave.New(slave.Config{Address: addr, PoolSize: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := s.Call(ctx, "greet", []byte("gopher"))
	fmt.Printf("%s %v\n", resp, err)

	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = s.Call(short, "slow", nil)
	fmt.Println("slow call timed out:", errors.Is(err, context.DeadlineExceeded))

	_, err = s.Call(ctx, "missing", nil)
	fmt.Println("unknown method:", errors.Is(err, slave.ErrUnknownMethod))
	// Output:
	// hello, gopher <nil>
	// slow call timed out: true
	// unknown method: true
}

// CallStream sends a request read from an io.Reader and copies the response
// to an io.Writer as it arrives; neither needs to fit in memory.
func ExampleSlave_CallStream() {
	m, addr := exampleMaster()
	defer m.Close()

	s, err := slave.New(slave.Config{Address: addr})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := "streamed through the master\n"
	n, err := s.CallStream(ctx, "upper", strings.NewReader(req), int64(len(req)), os.Stdout)
	fmt.Println(n, err)
	// Output:
	// STREAMED THROUGH THE MASTER
	// 28 <nil>
}
