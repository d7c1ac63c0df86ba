package metadata_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/metadata"
)

func TestOutgoingContextsDoNotShare(t *testing.T) {
	base := metadata.AppendToOutgoingContext(context.Background(), "a", "1")
	one := metadata.AppendToOutgoingContext(base, "b", "2")
	two := metadata.AppendToOutgoingContext(base, "c", "3")
	assert.Equal(t, metadata.Pairs("a", "1"), metadata.FromOutgoingContext(base))
	assert.Equal(t, metadata.Pairs("a", "1", "b", "2"), metadata.FromOutgoingContext(one))
	assert.Equal(t, metadata.Pairs("a", "1", "c", "3"), metadata.FromOutgoingContext(two))
	replaced := metadata.NewOutgoingContext(one, metadata.Pairs("z", "9"))
	assert.Equal(t, metadata.Pairs("z", "9"), metadata.FromOutgoingContext(replaced))
	assert.Nil(t, metadata.FromOutgoingContext(context.Background()))
	odd := []string{"odd"}
	assert.Panics(t, func() { metadata.Pairs(odd...) })
}

func TestParseAndCheck(t *testing.T) {
	md := metadata.Pairs("k", "v", "k", "")
	var block []byte
	for _, p := range md {
		block = frame.AppendMetadataPair(block, p.Key, p.Value)
	}
	assert.Equal(t, len(block), md.Size())
	got, err := metadata.Parse(block)
	require.NoError(t, err)
	assert.Equal(t, md, got)
	got, err = metadata.Parse(nil)
	require.NoError(t, err)
	assert.Nil(t, got)
	_, err = metadata.Parse([]byte{0x01})
	require.ErrorIs(t, err, frame.ErrMetadata)

	require.ErrorIs(t, metadata.MD{{Key: "UPPER", Value: ""}}.Check(), frame.ErrMetadata, "MD built by hand is checked as is")
	require.ErrorIs(t, metadata.Pairs("k", strings.Repeat("v", frame.MaxMetadataSize)).Check(), frame.ErrMetadata)
}

func TestIncomingAndCapture(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("a", "b"))
	assert.Equal(t, metadata.Pairs("a", "b"), metadata.FromIncomingContext(ctx))
	assert.Nil(t, metadata.FromIncomingContext(context.Background()))
	var dst metadata.MD
	assert.Same(t, &dst, metadata.CaptureTarget(metadata.CaptureResponse(context.Background(), &dst)))
	assert.Nil(t, metadata.CaptureTarget(context.Background()))
}
