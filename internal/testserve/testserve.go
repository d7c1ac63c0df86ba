package testserve

import (
	"context"
	"net"
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
