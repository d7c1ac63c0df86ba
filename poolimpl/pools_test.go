package poolimpl_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/poolimpl/pooltest"
	"github.com/AmanTrance/FastRpc/poolimpl/puddle"
)

// TestMain fails the package if any test leaves a goroutine behind: pools
// must stop their maintenance and dials on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// *conn.Conn is what the slave's pools hold.
var _ poolimpl.Conn = (*conn.Conn)(nil)

// kinds are the pools compared by this package's tests and benchmarks:
// the builtin one, and puddle's, by module name.
var kinds = []struct {
	name    string
	factory func(poolimpl.Options) poolimpl.Factory
}{
	{"mutex", poolimpl.Mutex},
	{"puddle", puddle.Factory},
}

// The builtin pool passes the contract suite, options and allocations
// included. Package puddle's tests run it for puddle's.
func TestContract(t *testing.T) {
	pooltest.Run(t, pooltest.Config{New: poolimpl.Mutex, Maintains: true, AllocFree: true})
}

// pipeDialer dials net.Pipe connections, counts dials, and closes every
// end when the test ends.
type pipeDialer struct {
	mu    sync.Mutex
	ends  []net.Conn
	dials atomic.Int64
	// gate, when set, is waited for before each dial returns (ignoring
	// ctx, like a dial stuck in the kernel).
	gate chan struct{}
	// fail, when set, fails every dial.
	fail atomic.Bool
}

func newPipeDialer(tb testing.TB) *pipeDialer {
	d := &pipeDialer{}
	tb.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, c := range d.ends {
			_ = c.Close()
		}
	})
	return d
}

func (d *pipeDialer) dial(ctx context.Context) (poolimpl.Conn, error) {
	d.dials.Add(1)
	if d.gate != nil {
		<-d.gate
	}
	if d.fail.Load() {
		return nil, errFail
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	d.mu.Lock()
	d.ends = append(d.ends, a, b)
	d.mu.Unlock()
	return conn.New(a, conn.Config{ReadBufferSize: 64, WriteBufferSize: 64}), nil
}

type failError struct{}

func (failError) Error() string { return "dial failed on purpose" }

var errFail error = failError{}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
