// Command quickstart runs a FastRpc master and a slave in one process on
// loopback and shows a few calls: a plain call, an echo, a streamed
// transfer, an application error, an unknown method, a deadline, and the
// master's capabilities. Run it with:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/slave"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	master, err := fastrpc.NewMaster()
	if err != nil {
		return err
	}
	master.RegisterRPC("ping", "answers pong", "", "text/plain", func(i *fastrpc.IOOperator) error {
		return i.WriteIOFromBuffer([]byte("pong"))
	})
	master.RegisterRPC("upper", "upper-cases its request", "text/plain", "text/plain", func(i *fastrpc.IOOperator) error {
		b, err := i.ReadIOStream(int(i.ReadDataLeft()))
		if err != nil {
			return err
		}
		return i.WriteIOFromBuffer([]byte(strings.ToUpper(string(b))))
	})
	master.RegisterRPC("echo", "streams its request back", "", "", func(i *fastrpc.IOOperator) error {
		// The handler reads and writes at once: nothing is held in memory.
		return i.WriteIOFromReader(i, int(i.ReadDataLeft()), 64<<10)
	})
	master.RegisterRPC("divide", "fails on purpose", "", "", func(i *fastrpc.IOOperator) error {
		return i.WriteError("division by zero")
	})
	master.RegisterRPC("slow", "waits for its deadline", "", "", func(i *fastrpc.IOOperator) error {
		<-i.Context().Done()
		return i.Context().Err()
	})

	// Port 0 picks a free port; the listener tells which. To serve a port
	// chosen in advance, master.Start(ctx, ip, port) listens itself.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- master.Serve(ctx, ln) }()
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Printf("master listening on %s\n", addr)

	client, err := fastrpc.NewSlave(addr.IP, addr.Port, 4)
	if err != nil {
		return err
	}
	defer client.DeInitialize()

	pong, err := client.CallForBuffer("ping", nil)
	if err != nil {
		return err
	}
	fmt.Printf("ping -> %s\n", pong)

	up, err := client.CallForBuffer("upper", []byte("hello, fastrpc"))
	if err != nil {
		return err
	}
	fmt.Printf("upper(\"hello, fastrpc\") -> %s\n", up)

	// 32 MiB each way, streamed: neither side buffers the payload.
	const size = 32 << 20
	sum := sha256.New()
	start := time.Now()
	n, err := client.CallStream(context.Background(), "echo", io.LimitReader(&pattern{}, size), size, sum)
	if err != nil {
		return err
	}
	want := sha256.New()
	_, _ = io.Copy(want, io.LimitReader(&pattern{}, size))
	fmt.Printf("echo streamed %d MiB back in %v, intact: %v\n", n>>20, time.Since(start).Round(time.Millisecond),
		string(sum.Sum(nil)) == string(want.Sum(nil)))

	_, err = client.CallForBuffer("divide", nil)
	var remote *slave.RemoteError
	fmt.Printf("divide -> application error: %v, message %q\n", errors.Is(err, slave.ErrApplication),
		func() string { errors.As(err, &remote); return remote.Message }())

	_, err = client.CallForBuffer("no-such-method", nil)
	fmt.Printf("no-such-method -> unknown method: %v\n", errors.Is(err, slave.ErrUnknownMethod))

	dctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = client.Call(dctx, "slow", nil)
	cancel()
	fmt.Printf("slow with a 100ms deadline -> deadline exceeded: %v\n", errors.Is(err, context.DeadlineExceeded))

	caps, err := client.GetMasterCapabilities()
	if err != nil {
		return err
	}
	fmt.Println("capabilities:")
	for _, c := range caps {
		fmt.Printf("  %-12s %s\n", c.Name, c.Description)
	}
	st := client.PoolStats()
	fmt.Printf("pool: %d open, %d dials, %d acquires\n", st.Open, st.Dials, st.Acquires)

	stop() // graceful shutdown; Serve returns nil
	if err := <-served; err != nil {
		return err
	}
	fmt.Println("master stopped")
	return nil
}

// pattern is an endless deterministic byte stream.
type pattern struct{ off int }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		x := r.off + i
		p[i] = byte(x*7 + x>>12)
	}
	r.off += len(p)
	return len(p), nil
}
