package master_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

type ctxKey struct{}

// A handler's context carries the call's IOOperator (for layers that only
// pass a context on), its deadline, and survives derivation.
func TestOperatorFromContext(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"who": func(op *master.IOOperator) error {
			ctx := context.WithValue(op.Context(), ctxKey{}, "v")
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if master.OperatorFrom(ctx) != op {
				return errors.New("OperatorFrom lost the operator")
			}
			if ctx.Value(ctxKey{}) != "v" {
				return errors.New("derived value lost")
			}
			return op.WriteIOFromBuffer([]byte(master.OperatorFrom(ctx).Method()))
		},
		"wait": func(op *master.IOOperator) error {
			dl, ok := op.Context().Deadline()
			if !ok || time.Until(dl) > time.Minute {
				return errors.New("no deadline on the context")
			}
			ctx, cancel := context.WithCancel(op.Context())
			defer cancel()
			<-ctx.Done() // derived contexts see the call's deadline too
			return ctx.Err()
		},
	})
	require.Nil(t, master.OperatorFrom(context.Background()))
	s := dialSlave(t, addr, slave.Config{PoolSize: 1})
	got, err := s.Call(callCtx(t), "who", nil)
	require.NoError(t, err)
	require.Equal(t, "who", string(got))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Call(ctx, "wait", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
