package typed_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// hangGuard bounds waits that only exist to keep a broken test from hanging.
const hangGuard = testserve.HangGuard

// serve serves m on a free loopback port until the test ends and returns
// its address.
func serve(t testing.TB, m *master.Master) net.Addr {
	t.Helper()
	return testserve.Serve(t, m)
}

// newMaster serves a master with whatever register adds and returns its
// address.
func newMaster(t testing.TB, register func(m *master.Master)) net.Addr {
	t.Helper()
	m := master.New(master.Config{})
	register(m)
	return serve(t, m)
}

// dial returns a warmed slave for the address, closed when the test ends.
func dial(t testing.TB, addr net.Addr) *slave.Slave {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := slave.Dial(ctx, slave.Config{Address: addr.String(), PoolSize: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// callCtx is a context that only prevents hangs.
func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// countingCaller counts the calls that reach the master besides
// capabilities lookups.
type countingCaller struct {
	*slave.Slave
	sent atomic.Int64
	caps atomic.Int64
}

func (c *countingCaller) CallAppend(ctx context.Context, method string, req, dst []byte) ([]byte, error) {
	c.sent.Add(1)
	return c.Slave.CallAppend(ctx, method, req, dst)
}

func (c *countingCaller) Capabilities(ctx context.Context) (frame.Capabilities, error) {
	c.caps.Add(1)
	return c.Slave.Capabilities(ctx)
}
