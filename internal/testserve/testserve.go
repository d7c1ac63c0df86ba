package testserve

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/master"
)

// HangGuard bounds waits that only exist to keep a broken test from
// hanging.
const HangGuard = 10 * time.Second

// Start listens on address (a free port when it ends in ":0"), serves m
// there, and returns the address it listens on and a channel that receives
// what Serve returns. The master is closed when the test ends.
func Start(t testing.TB, m *master.Master, address string) (net.Addr, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatalf("listen on %s: %v", address, err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close() })
	return ln.Addr(), done
}

// Serve serves m on a free loopback port until the test ends and returns
// its address; when the test ends it checks that Serve returns once m is
// closed, with nil, or with master.ErrClosed when the test was over before
// Serve's goroutine got to run.
func Serve(t testing.TB, m *master.Master) net.Addr {
	t.Helper()
	addr, done := Start(t, m, "127.0.0.1:0")
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, master.ErrClosed) {
				t.Errorf("Serve after Close: %v", err)
			}
		case <-time.After(HangGuard):
			t.Error("Serve did not return after Close")
		}
	})
	return addr
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

// Tally counts events by tag, safe for concurrent use: test modules count
// their Cleanup calls in one. The zero value is ready.
type Tally struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts one event for tag.
func (t *Tally) Add(tag string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[tag]++
}

// Count returns how many events tag had.
func (t *Tally) Count(tag string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[tag]
}

// Reset forgets every count, so a test can run again (go test -count=2).
func (t *Tally) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.n)
}

// Silent listens on a free loopback port, accepts every connection and
// never sends a byte: a peer that hangs. It returns the address; the
// listener and the connections close when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
