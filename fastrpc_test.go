package fastrpc_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// facadeFreePort returns a loopback port that was free a moment ago.
func facadeFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// 22. The root facade: a master registered with RegisterRPC and started
// with Start on a chosen port, and a slave made with NewSlave. Errors match
// package slave's sentinels.
func TestFacadePingPong(t *testing.T) {
	m, err := fastrpc.NewMaster()
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	m.RegisterRPC("ping", "answers pong", "empty", "text/plain", func(op *fastrpc.IOOperator) error {
		return op.WriteIOFromBuffer([]byte("pong"))
	})
	m.RegisterRPC("fail", "fails", "", "", func(op *fastrpc.IOOperator) error {
		return op.WriteError("no pong today")
	})
	require.PanicsWithError(t, master.ErrDuplicate.Error()+`: "ping"`, func() {
		m.RegisterRPC("ping", "again", "", "", func(*fastrpc.IOOperator) error { return nil })
	})
	require.Panics(t, func() { m.RegisterRPC("", "", "", "", func(*fastrpc.IOOperator) error { return nil }) })
	require.Panics(t, func() { m.RegisterRPC("capabilities", "", "", "", func(*fastrpc.IOOperator) error { return nil }) })

	port := facadeFreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- m.Start(ctx, net.IPv4(127, 0, 0, 1), port) }()

	// Start has begun listening once NewSlave connects.
	var s *fastrpc.RpcSlave
	for end := time.Now().Add(10 * time.Second); ; {
		if s, err = fastrpc.NewSlave(net.IPv4(127, 0, 0, 1), port, 5); err == nil {
			break
		}
		require.True(t, time.Now().Before(end), "NewSlave never reached the master Start serves: %v", err)
		select {
		case err := <-started:
			t.Fatalf("Start returned before serving: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.Equal(t, 5, s.PoolStats().Open, "NewSlave fills its pool")

	resp, err := s.CallForBuffer("ping", nil)
	require.NoError(t, err)
	require.Equal(t, "pong", string(resp))

	caps, err := s.GetMasterCapabilities()
	require.NoError(t, err)
	require.Contains(t, caps, fastrpc.MasterCapabilitiesDTO{Name: "ping", Description: "answers pong", IncomingEncoding: "empty", ReturningEncoding: "text/plain"})
	require.Len(t, caps, 3)

	_, err = s.CallForBuffer("pong", nil)
	require.ErrorIs(t, err, slave.ErrUnknownMethod)

	_, err = s.CallForBuffer("fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication)
	var re *slave.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "no pong today", re.Message)

	s.DeInitialize()
	_, err = s.CallForBuffer("ping", nil)
	require.ErrorIs(t, err, slave.ErrClosed)

	cancel()
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after its context was cancelled")
	}
}

func TestFacadeNewSlaveArguments(t *testing.T) {
	_, err := fastrpc.NewSlave(nil, 1000, 1)
	require.Error(t, err)
	_, err = fastrpc.NewSlave(net.IPv4(127, 0, 0, 1), 0, 1)
	require.Error(t, err)
	_, err = fastrpc.NewSlave(net.IPv4(127, 0, 0, 1), 70000, 1)
	require.Error(t, err)
}
