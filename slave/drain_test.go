package slave_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// A call whose deadline passes after its request went out does not cost
// its connection: the master's handler ends at the same deadline, its late
// answer is read and dropped, and the connection serves the next call.
func TestDeadlineKeepsConnection(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": echo,
		"patient": func(op *master.IOOperator) error { // honours its deadline
			<-op.Context().Done()
			return op.Context().Err()
		},
	})
	d := &countingDialer{Dialer: net.Dialer{Timeout: time.Second}}
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, Dialer: d})
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := s.Call(ctx, "patient", nil)
		cancel()
		// The slave's own deadline, or the master's answer that the
		// handler gave up at it: both match the context's error.
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, slave.ErrConnection)
	}
	got, err := s.Call(callCtx(t), "echo", []byte("same connection"))
	require.NoError(t, err)
	require.Equal(t, "same connection", string(got))
	require.EqualValues(t, 1, d.n.Load(), "timed-out calls cost no new connection")
}

// A late answer that does not come within the drain's bound costs the
// connection, which tells the master nobody waits; Close does not wait for
// a drain in progress.
func TestDrainGivesUp(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{}, 1)
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"echo": echo,
		"stubborn": func(op *master.IOOperator) error { // ignores its deadline
			select {
			case <-release:
			case <-time.After(hangGuard):
			}
			done <- struct{}{}
			return nil
		},
	})
	defer close(release)
	d := &countingDialer{Dialer: net.Dialer{Timeout: time.Second}}
	s := dialSlave(t, addr, slave.Config{PoolSize: 1, Dialer: d})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	_, err := s.Call(ctx, "stubborn", nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	start := time.Now()
	got, err := s.Call(callCtx(t), "echo", []byte("after the drain"))
	require.NoError(t, err)
	require.Equal(t, "after the drain", string(got))
	require.EqualValues(t, 2, d.n.Load(), "the drained connection was given up")
	t.Logf("next call served after %v", time.Since(start))
	release <- struct{}{}
	<-done

	// Close during a drain ends it at once.
	leaks := goleak.IgnoreCurrent()
	s2, err := slave.Dial(callCtx(t), slave.Config{Address: addr, PoolSize: 1})
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	_, err = s2.Call(ctx, "stubborn", nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	start = time.Now()
	require.NoError(t, s2.Close())
	require.Less(t, time.Since(start), 500*time.Millisecond, "Close waited for the drain's bound")
	release <- struct{}{}
	<-done
	goleak.VerifyNone(t, leaks)
}
