package typed_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/typed"
)

// A typed handler reads the call's metadata from its context and sets the
// response's through the call's IOOperator.
func TestTypedMetadata(t *testing.T) {
	addr := newMaster(t, func(m *master.Master) {
		require.NoError(t, typed.Register(m, "greet", codec.Msgpack, func(ctx context.Context, name string) (string, error) {
			lang, _ := metadata.FromIncomingContext(ctx).Get("accept-language")
			if err := master.OperatorFrom(ctx).SetResponseMetadata(metadata.Pairs("content-language", lang)); err != nil {
				return "", err
			}
			if lang == "fr" {
				return "bonjour " + name, nil
			}
			return "hello " + name, nil
		}))
	})
	s := dial(t, addr)
	var back metadata.MD
	ctx := metadata.CaptureResponse(metadata.AppendToOutgoingContext(callCtx(t), "accept-language", "fr"), &back)
	got, err := typed.Call[string, string](ctx, s, "greet", "Ada")
	require.NoError(t, err)
	assert.Equal(t, "bonjour Ada", got)
	assert.Equal(t, metadata.Pairs("content-language", "fr"), back)
}
