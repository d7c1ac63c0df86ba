package master_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/transport"
)

// Addrs tells where Run listens, including the port a ":0" listener
// picked, without waiting; it is empty before and after.
func TestAddrsTellsRunsPorts(t *testing.T) {
	m := master.New(master.Config{Listeners: []conn.Listener{
		&transport.TCPListener{Address: "127.0.0.1:0"},
		&transport.TCPListener{Address: "127.0.0.1:0"},
	}})
	require.Empty(t, m.Addrs())
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background()) }()
	require.Eventually(t, func() bool { return len(m.Addrs()) == 2 }, 10*time.Second, time.Millisecond)
	addrs := m.Addrs()
	require.NotEqual(t, addrs[0].String(), addrs[1].String())
	for _, a := range addrs {
		require.NotZero(t, a.(*net.TCPAddr).Port)
		nc, err := net.DialTimeout("tcp", a.String(), 10*time.Second)
		require.NoError(t, err, "nothing listens at %v", a)
		_ = nc.Close()
	}
	require.NoError(t, m.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	require.Empty(t, m.Addrs(), "a closed master serves nothing")
}
