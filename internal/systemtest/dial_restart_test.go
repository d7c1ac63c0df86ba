package systemtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// Issue 13, item 2: the master is killed (SIGKILL, a child process) and
// calls fail for long enough that the slave backs off to long windows.
// When the master is back, calls made as soon as it accepts must succeed:
// they wait for the slave's next dial instead of failing on the backoff.
func TestDialMasterKilledRestartedCallsSucceed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	child := startChild(t, addr)
	s, err := slave.Dial(context.Background(), slave.Config{Address: addr, PoolSize: 4})
	require.NoError(t, err)
	defer s.Close()
	call := func(i int) error {
		req := []byte(fmt.Sprintf("call %d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := s.Call(ctx, "sum", req)
		if err != nil {
			return err
		}
		return checkSum(req, resp)
	}
	require.NoError(t, call(0))

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	// Calls while it is down fail, each with an error saying nothing was
	// sent; long enough for the backoff to grow past the restart's time.
	down := 0
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); down++ {
		err := call(down)
		require.Error(t, err, "the master is down")
		assert.ErrorIs(t, err, slave.ErrUnavailable)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "the calls' deadlines are 5s away")
	}

	startChild(t, addr) // returns once it listens
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call(1000 + i)
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	t.Logf("%d calls failed while the master was down; %d of %d right after its restart", down, failed, len(errs))
	require.NoError(t, errors.Join(errs...), "calls made as soon as the master accepts again")
}
