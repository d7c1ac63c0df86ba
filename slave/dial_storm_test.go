package slave_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/slave"
)

// destroyCounter wraps a pool factory and counts the connections the slave
// dropped (Destroy): each one is a slot that needs a new dial.
type destroyCounter struct {
	poolimpl.Pool
	n *atomic.Int64
}

func (d destroyCounter) Destroy(c poolimpl.Conn) {
	d.n.Add(1)
	d.Pool.Destroy(c)
}

func countDestroys(f poolimpl.Factory, n *atomic.Int64) poolimpl.Factory {
	return func(dial poolimpl.DialFunc, size int) (poolimpl.Pool, error) {
		p, err := f(dial, size)
		if err != nil {
			return nil, err
		}
		return destroyCounter{Pool: p, n: n}, nil
	}
}

// The deadline storm of issue 13: many callers with deadlines shorter than
// the handler, against a healthy master. Deadlines pass while calls wait
// for the pool, for a dial, or for the answer; none of that is the
// master's fault, so the slave must never back off: no ErrDialBackoff,
// every failure is the caller's own deadline, callers with room for the
// handler succeed throughout, and the master sees about one dial per
// connection the slave dropped, not a storm.
func TestDialDeadlineStormHealthyMaster(t *testing.T) {
	const (
		callers  = 64
		deadline = time.Millisecond
		runFor   = 2 * time.Second
		// A connection per caller: the pool's FIFO queue, where callers
		// get a connection after their deadline has gone, is not what
		// this test is about.
		poolSize = callers
	)
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // after the master's cleanup
			_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
				"work": func(op *master.IOOperator) error {
					time.Sleep(time.Duration(rand.IntN(4)) * time.Millisecond) // 0-3ms
					return op.WriteIOFromBuffer([]byte("done"))
				},
			})
			d := &countingDialer{Dialer: net.Dialer{Timeout: time.Second}}
			var destroys atomic.Int64
			s, err := slave.New(slave.Config{
				Address: addr, Dialer: d, PoolSize: poolSize,
				Pool: countDestroys(k.pool, &destroys),
			})
			require.NoError(t, err)

			var calls, ok, backoff, other atomic.Int64
			var firstOther atomic.Value
			stop := time.Now().Add(runFor)
			var wg sync.WaitGroup
			// A few patient callers run through the storm, with room for
			// the handler: every one of their calls must succeed.
			var patient, patientOK atomic.Int64
			var patientErr atomic.Value
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
						_, err := s.Call(ctx, "work", nil)
						cancel()
						patient.Add(1)
						if err != nil {
							patientErr.CompareAndSwap(nil, err)
						} else {
							patientOK.Add(1)
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						ctx, cancel := context.WithTimeout(context.Background(), deadline)
						_, err := s.Call(ctx, "work", nil)
						cancel()
						calls.Add(1)
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, slave.ErrDialBackoff):
							backoff.Add(1)
							firstOther.CompareAndSwap(nil, err)
						case !errors.Is(err, context.DeadlineExceeded),
							errors.Is(err, slave.ErrUnavailable) && errors.Is(err, slave.ErrConnection):
							other.Add(1)
							firstOther.CompareAndSwap(nil, err)
						}
					}
				}()
			}
			wg.Wait()
			st := s.PoolStats()
			dials := d.n.Load()
			t.Logf("%s: %d calls, %d succeeded, %d ErrDialBackoff, %d other errors; %d real dials, %d connections dropped; patient callers: %d of %d calls succeeded; %+v",
				k.name, calls.Load(), ok.Load(), backoff.Load(), other.Load(), dials, destroys.Load(), patientOK.Load(), patient.Load(), st)
			if e := firstOther.Load(); e != nil {
				t.Logf("first unexpected error: %v", e)
			}
			if e := patientErr.Load(); e != nil {
				t.Errorf("a patient caller's call failed during the storm: %v", e)
			}
			assert.Positive(t, patientOK.Load())

			// Right after the storm the slave is not backing off: calls
			// with room for the handler all succeed.
			for i := range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				_, err := s.Call(ctx, "work", nil)
				cancel()
				require.NoError(t, err, "call %d after the storm", i)
			}
			require.NoError(t, s.Close())
			assert.Zero(t, backoff.Load(), "a healthy master was treated as down")
			assert.Zero(t, other.Load(), "failures other than the caller's own deadline")
			// How many 1ms calls succeed depends on the machine's load:
			// few on two shared cores, where most deadlines pass while a
			// caller waits for the pool. The patient callers above show
			// that the slave serves throughout.
			// A dial per dropped connection, plus the pool's first fill and
			// the dials whose callers gave up (each one still serves a
			// later caller).
			assert.LessOrEqual(t, dials, destroys.Load()+int64(3*poolSize), "dials beyond replacing dropped connections")
			// And few are dropped: a call whose deadline passes after its
			// request went out keeps its connection (its late answer is
			// drained), so the storm costs a few dials per pool slot, not
			// one per timed-out call.
			assert.LessOrEqual(t, dials, int64(8*poolSize), "dials per pool slot")
		})
	}
}
