package slave_test

import (
	"bytes"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// idleNoticeSetup serves echo (counting the calls it processes) on a master
// that closes connections idle for 100ms, and dials a slave that does not
// probe connections used within the hour: its next call is sent on a
// connection the master has already closed with a notice.
func idleNoticeSetup(t *testing.T, poolSize int) (*master.Master, *slave.Slave, *atomic.Int32) {
	t.Helper()
	var processed atomic.Int32
	m, addr := serveMaster(t, master.Config{IdleTimeout: 100 * time.Millisecond}, map[string]master.Handler{
		"echo": func(op *master.IOOperator) error {
			processed.Add(1)
			return echo(op)
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: poolSize, Conn: conn.Config{ProbeAfter: time.Hour}})
	// Use every pooled connection once, so none is probed from now on.
	calls := make(chan error, poolSize)
	for range poolSize {
		go func() {
			_, err := s.Call(callCtx(t), "echo", []byte("warm"))
			calls <- err
		}()
	}
	for range poolSize {
		require.NoError(t, <-calls)
	}
	processed.Store(0)
	time.Sleep(400 * time.Millisecond) // well past the idle timeout
	return m, s, &processed
}

// A call that crosses the master's idle-close notice was not processed; the
// slave sends it again on a fresh connection, once, and the caller sees
// only the answer.
func TestRetryNotProcessedOnNewConnection(t *testing.T) {
	t.Parallel()
	_, s, processed := idleNoticeSetup(t, 2)
	dials := s.PoolStats().Dials

	resp, err := s.Call(callCtx(t), "echo", []byte("after idle"))
	require.NoError(t, err, "a request the master did not process must be retried")
	require.Equal(t, "after idle", string(resp))
	require.Equal(t, int32(1), processed.Load(), "processed exactly once")
	require.Greater(t, s.PoolStats().Dials, dials, "the retry went to a new connection")

	// And the slave carries on normally.
	resp, err = s.Call(callCtx(t), "echo", []byte("again"))
	require.NoError(t, err)
	require.Equal(t, "again", string(resp))
}

// A streamed request body cannot be replayed: the caller gets
// ErrShuttingDown (not processed) and decides.
func TestNoRetryForStreamedRequest(t *testing.T) {
	t.Parallel()
	_, s, processed := idleNoticeSetup(t, 1)

	var out bytes.Buffer
	_, err := s.CallStream(callCtx(t), "echo", bytes.NewReader([]byte("stream")), 6, &out)
	require.ErrorIs(t, err, slave.ErrShuttingDown)
	require.Zero(t, processed.Load())
	require.Zero(t, out.Len())
}

// When the retry cannot even get a connection, the error still says the
// request was not processed, and why the retry failed.
func TestRetryFailsToConnect(t *testing.T) {
	t.Parallel()
	m, s, processed := idleNoticeSetup(t, 1)
	require.NoError(t, m.Close())

	_, err := s.Call(callCtx(t), "echo", []byte("master gone"))
	require.ErrorIs(t, err, slave.ErrShuttingDown, "the first answer: not processed")
	require.True(t, errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, slave.ErrDialBackoff), "the retry's failure: %v", err)
	require.Zero(t, processed.Load())
}
