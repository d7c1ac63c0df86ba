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
	"github.com/AmanTrance/FastRpc/poolimpl/puddle" // also registers "pool.puddle" for the JSON tests
)

// poolKinds are the pools the slave is tested with.
var poolKinds = []struct {
	name string
	pool poolimpl.Factory
}{
	{"mutex", poolimpl.Mutex(poolimpl.Options{})},
	{"puddle", puddle.Factory(poolimpl.Options{})},
}

// poolMaster is a master serving "echo" on addr ("127.0.0.1:0" for a free
// port), retrying the listen while a previous master's port is released.
// It returns the master and the address it listens on, and is closed when
// the test ends if the test has not closed it.
func poolMaster(t testing.TB, addr string) (*master.Master, string) {
	t.Helper()
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{Description: "echo"}, echo))
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, hangGuard, 10*time.Millisecond, "could not listen on %s", addr)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Error("Serve did not return after Close")
		}
	})
	return m, ln.Addr().String()
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
