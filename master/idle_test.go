package master_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// An idle connection is closed after IdleTimeout (and not long after), with
// a StatusShuttingDown notice first: a slave sending at that moment learns
// its request was not processed.
func TestIdleTimeoutSendsNotice(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	_, addr := serveMaster(t, master.Config{IdleTimeout: idle}, map[string]master.Handler{"echo": echo})
	nc := rawHandshake(t, addr)

	// One call, then silence from the moment its answer arrives.
	writeRequestHeader(t, nc, frame.RequestHeader{Method: frame.MethodID("echo"), Length: 2})
	_, err := nc.Write([]byte("hi"))
	require.NoError(t, err)
	h, body := readResponse(t, nc)
	require.Equal(t, frame.StatusOK, h.Status)
	require.Equal(t, "hi", string(body))
	start := time.Now()

	h, msg := readResponse(t, nc)
	waited := time.Since(start)
	require.Equal(t, frame.StatusShuttingDown, h.Status, "message %q", msg)
	require.Contains(t, string(msg), "idle")
	require.Empty(t, requireEOF(t, nc), "nothing follows the notice")
	// Never early; late by a sweep tick plus scheduling, bounded loosely
	// because the machine may be loaded.
	require.GreaterOrEqual(t, waited, idle-5*time.Millisecond, "closed before IdleTimeout")
	require.Less(t, waited, 10*idle, "closed long after IdleTimeout")
}

// Calls that keep coming keep a connection open however long it lives, and
// a call that runs longer than IdleTimeout (no deadline) is not cut short:
// only idle time counts.
func TestIdleTimeoutCountsOnlyIdleTime(t *testing.T) {
	t.Parallel()
	const idle = 150 * time.Millisecond
	_, addr := serveMaster(t, master.Config{IdleTimeout: idle}, map[string]master.Handler{
		"echo": echo,
		// slow reads its request in pieces over 3*idle, then echoes it.
		"slow": func(op *master.IOOperator) error {
			var out bytes.Buffer
			buf := make([]byte, 1)
			for {
				time.Sleep(idle / 5)
				n, err := op.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
			return op.WriteIOFromBuffer(out.Bytes())
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	dials := s.PoolStats().Dials

	for range 12 { // 12 * idle/3 = 4 * idle of life, never idle for long
		resp, err := s.Call(callCtx(t), "echo", []byte("busy"))
		require.NoError(t, err)
		require.Equal(t, "busy", string(resp))
		time.Sleep(idle / 3)
	}
	require.Equal(t, dials, s.PoolStats().Dials, "a connection in use was closed")

	// The slave sends the request at once; the handler takes ~15 reads of
	// idle/5 each, three times IdleTimeout.
	resp, err := s.Call(callCtx(t), "slow", []byte("fifteen bytes!!"))
	require.NoError(t, err)
	require.Equal(t, "fifteen bytes!!", string(resp))
	require.Equal(t, dials, s.PoolStats().Dials, "a long call's connection was closed")
}

// With HeaderTimeout off, a connection holding half a request header is
// still closed: it carries no request, so IdleTimeout bounds it.
func TestIdleTimeoutBoundsHalfHeaderWithoutHeaderTimeout(t *testing.T) {
	t.Parallel()
	const idle = 150 * time.Millisecond
	_, addr := serveMaster(t, master.Config{HeaderTimeout: -1, IdleTimeout: idle}, map[string]master.Handler{"echo": echo})
	nc := rawHandshake(t, addr)
	_, err := nc.Write([]byte{0x01}) // the first byte of a header, and no more
	require.NoError(t, err)
	start := time.Now()
	requireEOF(t, nc)
	require.GreaterOrEqual(t, time.Since(start), idle-5*time.Millisecond, "closed before IdleTimeout")
}

// Deadlines a handler sets through NetConn end with its call: the
// connection then waits for the next request as long as any other, and is
// reused.
func TestHandlerDeadlinesDoNotOutliveTheCall(t *testing.T) {
	t.Parallel()
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"short": func(op *master.IOOperator) error {
			if err := op.NetConn().SetDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
				return err
			}
			return echo(op)
		},
	})
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	// No deadline on the calls: a call deadline would have the master set
	// (and so later clear) deadlines of its own.
	resp, err := s.Call(context.Background(), "short", []byte("one"))
	require.NoError(t, err)
	require.Equal(t, "one", string(resp))
	dials := s.PoolStats().Dials

	time.Sleep(150 * time.Millisecond) // well past the handler's deadline

	resp, err = s.Call(context.Background(), "short", []byte("two"))
	require.NoError(t, err)
	require.Equal(t, "two", string(resp))
	require.Equal(t, dials, s.PoolStats().Dials, "the connection was closed by a deadline its handler set")
}
