package slave_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/slave"
)

// poolKinds are the pools the slave is tested with.
var poolKinds = []struct {
	name string
	pool slave.PoolFactory
}{
	{"mutex", poolimpl.MutexFactory(poolimpl.Options{})},
	{"puddle", poolimpl.PuddleFactory(poolimpl.Options{})},
}

// poolMaster is a master serving "echo" on addr ("127.0.0.1:0" for a free
// port), retrying the listen while a previous master's port is released.
// It is closed when the test ends if the test has not closed it.
func poolMaster(t testing.TB, addr string) *master.Master {
	t.Helper()
	var m *master.Master
	var done chan error
	require.Eventually(t, func() bool {
		m = master.New(master.Config{})
		require.NoError(t, m.Register("echo", master.Info{Description: "echo"}, echo))
		done = make(chan error, 1)
		go func() { done <- m.ListenAndServe(context.Background(), addr) }()
		return m.Addr() != nil
	}, hangGuard, 10*time.Millisecond, "could not listen on %s", addr)
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Error("ListenAndServe did not return after Close")
		}
	})
	return m
}

// countingDialer counts the connections really attempted.
type countingDialer struct {
	net.Dialer
	n atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.n.Add(1)
	return d.Dialer.DialContext(ctx, network, address)
}
