package middleware_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/slave"
)

func TestCallMiddleware(t *testing.T) {
	addr := serve(t, nil)
	var buf syncBuffer
	logging := &middleware.CallLogging{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	require.NoError(t, logging.Provision(context.Background()))
	counters := new(middleware.Counters)
	var order []string
	trace := func(name string) slave.Middleware {
		return func(next slave.Invoker) slave.Invoker {
			return func(ctx context.Context, info *slave.CallInfo) error {
				order = append(order, name+">")
				err := next(ctx, info)
				order = append(order, "<"+name)
				return err
			}
		}
	}
	s, err := slave.New(slave.Config{Address: addr, PoolSize: 1, Middleware: []slave.Middleware{
		trace("outer"), logging.WrapCall, (&middleware.CallMetrics{Sink: counters}).WrapCall, trace("inner"),
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	got, err := s.Call(bg, "echo", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	assert.Equal(t, []string{"outer>", "inner>", "<inner", "<outer"}, order, "first is outermost")

	_, err = s.Call(bg, "fail", nil)
	require.ErrorIs(t, err, slave.ErrApplication)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	_, err = s.Call(ctx, "echo", []byte("late"))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	stats := map[string]middleware.MethodStats{}
	for _, st := range counters.Snapshot() {
		stats[st.Method] = st
	}
	assert.Equal(t, uint64(2), stats["echo"].Calls)
	assert.Equal(t, uint64(1), stats["echo"].Errors, "the late call")
	assert.Equal(t, uint64(5), stats["echo"].ResponseBytes)
	assert.Equal(t, uint64(1), stats["fail"].Errors)

	recs := buf.records(t)
	require.Len(t, recs, 3)
	assert.Equal(t, "echo", recs[0]["method"])
	assert.Equal(t, "ok", recs[0]["status"])
	assert.EqualValues(t, 5, recs[0]["response_bytes"])
	assert.Equal(t, "application error", recs[1]["status"])
	assert.Equal(t, "no answer", recs[2]["status"])
	assert.Equal(t, "WARN", recs[2]["level"])
}

// Call middleware counts in CallStream too.
func TestCallMiddlewareStream(t *testing.T) {
	counters := new(middleware.Counters)
	s, err := slave.New(slave.Config{Address: serve(t, nil), PoolSize: 1,
		Middleware: []slave.Middleware{(&middleware.CallMetrics{Sink: counters}).WrapCall}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var out syncBuffer
	n, err := s.CallStream(context.Background(), "echo", strings.NewReader("streamed!!"), 10, &out)
	require.NoError(t, err)
	require.Equal(t, int64(10), n)
	st := counters.Snapshot()
	require.Len(t, st, 1)
	assert.Equal(t, uint64(10), st[0].RequestBytes)
	assert.Equal(t, uint64(10), st[0].ResponseBytes)
}
