package slave_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// gateDialer dials TCP and lets a test hold the slave's side of the
// connections at chosen moments: a Read that has received a response but
// not yet handed it to the slave (gate), and the cancellation's
// SetDeadline in the past, applied late (lateDeadline). Its connections
// expose no socket, so the pool's stale probe sees only buffered bytes:
// what the slave does to a connection is all that keeps it in step.
type gateDialer struct {
	d            net.Dialer
	gate         atomic.Pointer[readGate]
	lateDeadline atomic.Pointer[lateDeadline]
}

// readGate holds the next Read that receives data: it reads at least want
// bytes (or what fits), closes arrived, waits for release, closes returned
// and hands the bytes over.
type readGate struct {
	want     int
	arrived  chan struct{}
	release  chan struct{}
	returned chan struct{}
}

// lateDeadline delays the next deadline in the past (a cancellation's)
// until after is closed and then by wait; applied is closed once it is set.
type lateDeadline struct {
	after   <-chan struct{}
	wait    time.Duration
	applied chan struct{}
}

func (g *gateDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := g.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &gateConn{Conn: nc, d: g}, nil
}

type gateConn struct {
	net.Conn
	d *gateDialer
}

func (c *gateConn) Read(p []byte) (int, error) {
	g := c.d.gate.Swap(nil)
	if g == nil {
		return c.Conn.Read(p)
	}
	n, err := io.ReadAtLeast(c.Conn, p, min(len(p), g.want))
	close(g.arrived)
	<-g.release
	close(g.returned)
	return n, err
}

func (c *gateConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && t.Before(time.Now()) {
		if l := c.d.lateDeadline.Swap(nil); l != nil {
			<-l.after
			time.Sleep(l.wait)
			err := c.Conn.SetDeadline(t)
			close(l.applied)
			return err
		}
	}
	return c.Conn.SetDeadline(t)
}

// waitFor receives from ch or fails the test after hangGuard.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangGuard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// 7e. A cancellation that races with the end of a call must not leave the
// connection the pool hands to the next caller out of step: neither with
// a poisoned (past) deadline, nor with the cancelled call's answer still to
// come. Each subtest makes the next caller wait for the only connection,
// so it gets whatever the cancelled call leaves, without the pool's probe.
func TestCancelRacingCompletionSparesNextCall(t *testing.T) {
	// Cancelled while its answer is in hand but not yet read by the slave;
	// the cancellation's past deadline lands late. The call completes, so
	// its connection is kept, and must be left without that deadline (the
	// slave waits for the cancellation to finish and clears it).
	t.Run("cancel between arrival and read", func(t *testing.T) {
		gd := &gateDialer{}
		_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
			"answer": func(op *master.IOOperator) error { return op.WriteIOFromBuffer([]byte("a")) },
			"echo":   echo,
		})
		s := dialSlave(t, addr, slave.Config{PoolSize: 1, Dialer: gd})
		bg := noDeadline(t)
		for i := range 50 {
			g := &readGate{want: frame.ResponseHeaderSize + 1, arrived: make(chan struct{}), release: make(chan struct{}), returned: make(chan struct{})}
			late := &lateDeadline{after: g.returned, wait: 5 * time.Millisecond, applied: make(chan struct{})}
			gd.gate.Store(g)
			gd.lateDeadline.Store(late)
			ctx, cancel := context.WithCancel(context.Background())
			first := make(chan error, 1)
			go func() {
				resp, err := s.Call(ctx, "answer", nil)
				if err == nil && string(resp) != "a" {
					err = fmt.Errorf("first call got %q", resp)
				}
				first <- err
			}()
			waitFor(t, g.arrived, "the answer")
			victim := make(chan error, 1)
			go func() { victim <- callEcho(bg, s, "victim") }()
			require.Eventually(t, func() bool { return s.PoolStats().Waiting > 0 }, hangGuard, 20*time.Microsecond)
			cancel()
			close(g.release)
			if err := <-first; err != nil {
				require.ErrorIs(t, err, context.Canceled, "iteration %d", i)
			}
			require.NoError(t, <-victim, "iteration %d: a cancelled call broke the next caller's call", i)
			waitFor(t, late.applied, "the cancellation's deadline")
			// The cancellation has done all it will: the connection it
			// touched must still serve.
			require.NoError(t, callEcho(bg, s, "after"), "iteration %d: the connection was left with the cancellation's deadline", i)
		}
	})

	// Cancelled before its answer comes; the handler answers after the
	// call has returned. That answer must never reach the next caller: the
	// connection is closed, not handed on.
	t.Run("answer after cancel", func(t *testing.T) {
		started := make(chan chan struct{})
		_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
			"late": func(op *master.IOOperator) error {
				release := make(chan struct{})
				started <- release
				<-release
				return op.WriteIOFromBuffer([]byte("stale"))
			},
			"echo": echo,
		})
		s := dialSlave(t, addr, slave.Config{PoolSize: 1})
		bg := noDeadline(t)
		for i := range 50 {
			ctx, cancel := context.WithCancel(context.Background())
			first := make(chan error, 1)
			go func() {
				_, err := s.Call(ctx, "late", nil)
				first <- err
			}()
			var release chan struct{}
			select {
			case release = <-started:
			case <-time.After(hangGuard):
				t.Fatalf("iteration %d: handler not started", i)
			}
			victim := make(chan error, 1)
			go func() { victim <- callEcho(bg, s, "victim") }()
			require.Eventually(t, func() bool { return s.PoolStats().Waiting > 0 }, hangGuard, 20*time.Microsecond)
			cancel()
			err := <-first
			close(release)
			require.ErrorIs(t, err, context.Canceled, "iteration %d", i)
			require.NoError(t, <-victim, "iteration %d: the next caller got the cancelled call's answer", i)
		}
	})

	// No control of the connection, real timing: the answer is written
	// and the call cancelled at the same moment, the write first on even
	// iterations, the cancellation first on odd ones.
	t.Run("racing", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		proceed := make(chan struct{})
		signal := make(chan struct{})
		_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
			"answer-then-signal": func(op *master.IOOperator) error {
				entered <- struct{}{}
				<-proceed
				err := op.WriteIOFromBuffer([]byte("a"))
				signal <- struct{}{}
				return err
			},
			"signal-then-answer": func(op *master.IOOperator) error {
				entered <- struct{}{}
				<-proceed
				signal <- struct{}{}
				return op.WriteIOFromBuffer([]byte("a"))
			},
			"echo": echo,
		})
		s := dialSlave(t, addr, slave.Config{PoolSize: 1})
		bg := noDeadline(t)
		for i := range 200 {
			method := "answer-then-signal"
			if i%2 == 1 {
				method = "signal-then-answer"
			}
			ctx, cancel := context.WithCancel(context.Background())
			first := make(chan error, 1)
			go func() {
				resp, err := s.Call(ctx, method, nil)
				if err == nil && string(resp) != "a" {
					err = fmt.Errorf("first call got %q", resp)
				}
				first <- err
			}()
			// The victim queues for the connection before the handler is
			// let go, so that it is handed whatever the first call leaves.
			waitFor(t, entered, "the handler")
			victim := make(chan error, 1)
			go func() { victim <- callEcho(bg, s, "victim") }()
			require.Eventually(t, func() bool { return s.PoolStats().Waiting > 0 }, hangGuard, 20*time.Microsecond)
			proceed <- struct{}{}
			select {
			case <-signal:
			case <-time.After(hangGuard):
				t.Fatalf("iteration %d: handler not started", i)
			}
			cancel()
			if err := <-first; err != nil {
				require.ErrorIs(t, err, context.Canceled, "iteration %d", i)
			}
			require.NoError(t, <-victim, "iteration %d: a cancelled call broke the next caller's call", i)
		}
	})
}

// noDeadline is a context without a deadline, cancelled only if the test
// hangs: a call with no deadline leaves the connection's deadline alone
// when the last call's was none too, so it is the call a deadline left on
// the connection breaks (one with a deadline would replace it).
func noDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(60*time.Second, cancel)
	t.Cleanup(func() { stop.Stop(); cancel() })
	return ctx
}

// callEcho calls echo with msg and checks that the answer is msg.
func callEcho(ctx context.Context, s *slave.Slave, msg string) error {
	resp, err := s.Call(ctx, "echo", []byte(msg))
	if err == nil && string(resp) != msg {
		err = fmt.Errorf("echo of %q got %q", msg, resp)
	}
	return err
}
