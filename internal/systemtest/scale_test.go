package systemtest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// TestThousandsOfConnections holds 2000 connections open to one master and
// makes a call on every one of them at once.
func TestThousandsOfConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2000 sockets")
	}
	const n = 2000
	m := master.New(master.Config{})
	require.NoError(t, m.Register("id", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	addr := testserve.Serve(t, m)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := slave.Dial(ctx, slave.Config{Address: addr.String(), PoolSize: n})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.Equal(t, n, s.PoolStats().Open)

	// All callers start together, so the calls overlap across the n
	// connections.
	var started, wg sync.WaitGroup
	started.Add(n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			started.Wait()
			want := fmt.Sprintf("call %d", i)
			got, err := s.Call(ctx, "id", []byte(want))
			if err == nil && string(got) != want {
				err = fmt.Errorf("call %d got %q", i, got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := s.PoolStats()
	require.Equal(t, n, st.Open, "no connection was lost or added")
	require.Equal(t, uint64(n), st.Dials)
}
