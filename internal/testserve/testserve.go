package testserve

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/master"
)

// HangGuard bounds waits that only exist to keep a broken test from
// hanging.
const HangGuard = 10 * time.Second

// Start serves m on address (a free port when it ends in ":0") and waits
// until it listens. It returns a channel that receives what ListenAndServe
// returns. The master is closed when the test ends.
func Start(t testing.TB, m *master.Master, address string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- m.ListenAndServe(context.Background(), address) }()
	addr := make(chan net.Addr, 1)
	go func() { addr <- m.Addr() }()
	select {
	case a := <-addr:
		if a == nil {
			t.Fatal("master has no address")
		}
	case err := <-done:
		t.Fatalf("ListenAndServe returned early: %v", err)
	case <-time.After(HangGuard):
		t.Fatal("master did not start listening")
	}
	t.Cleanup(func() { _ = m.Close() })
	return done
}

// Serve serves m on a free loopback port until the test ends, and then
// checks that ListenAndServe returns nil once m is closed.
func Serve(t testing.TB, m *master.Master) {
	t.Helper()
	done := Start(t, m, "127.0.0.1:0")
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenAndServe after Close: %v", err)
			}
		case <-time.After(HangGuard):
			t.Error("ListenAndServe did not return after Close")
		}
	})
}

// Raw accepts connections on ln and runs serve on each in its own
// goroutine, for fake peers that speak raw bytes. Every connection gets a
// HangGuard deadline, so serve can never hang the test; when the test
// ends, ln and every connection are closed and every serve has returned.
func Raw(t testing.TB, ln net.Listener, serve func(nc net.Conn)) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			_ = nc.SetDeadline(time.Now().Add(HangGuard))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, nc := range conns {
			_ = nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// RawTCP is Raw on a free loopback port; it returns the address.
func RawTCP(t testing.TB, serve func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	Raw(t, ln, serve)
	return ln.Addr().String()
}

// SyncBuffer is a goroutine-safe io.Writer, for a logger's output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
