package frame_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		slave frame.Preface
		max   uint16
		want  uint16
	}{
		{frame.Preface{Version: 1, Status: 0}, 2, 1}, // a version 1 slave
		{frame.SlavePreface(2), 2, 2},
		{frame.SlavePreface(2), 1, 1}, // a master that speaks only 1
		{frame.SlavePreface(9), 2, 2}, // a newer slave
		{frame.SlavePreface(1), 2, 1}, // a new slave limited to 1
	} {
		assert.Equal(t, tc.want, frame.Negotiate(tc.slave, tc.max), "%+v with max %d", tc.slave, tc.max)
	}
}

func TestMetadataKeys(t *testing.T) {
	for _, ok := range []string{"a", "authorization", "x-request-id", "grpc.timeout_2", strings.Repeat("k", frame.MaxMetadataKey)} {
		assert.NoError(t, frame.CheckMetadataKey(ok), ok)
	}
	for _, bad := range []string{"", "Authorization", "a b", "é", "a:b", strings.Repeat("k", frame.MaxMetadataKey+1)} {
		err := frame.CheckMetadataKey(bad)
		assert.ErrorIs(t, err, frame.ErrMetadata, bad)
	}
}

func TestParseMetadataLimits(t *testing.T) {
	var b []byte
	for range frame.MaxMetadataPairs {
		b = frame.AppendMetadataPair(b, "k", "")
	}
	n, err := frame.ParseMetadata(b, nil)
	require.NoError(t, err)
	assert.Equal(t, frame.MaxMetadataPairs, n)

	called := false
	_, err = frame.ParseMetadata(frame.AppendMetadataPair(b, "k", ""), func(_, _ []byte) { called = true })
	require.ErrorIs(t, err, frame.ErrMetadata)
	assert.Contains(t, err.Error(), "more than 64 pairs")
	assert.False(t, called, "fn sees nothing of a refused block")

	big := frame.AppendMetadataPair(nil, "k", strings.Repeat("v", frame.MaxMetadataSize))
	_, err = frame.ParseMetadata(big, nil)
	require.ErrorIs(t, err, frame.ErrMetadata)

	for _, bad := range []string{"\x00\x00\x00", "\x01k\x00\x02v", "\x02k", "\x01K\x00\x00"} {
		_, err := frame.ParseMetadata([]byte(bad), nil)
		assert.ErrorIs(t, err, frame.ErrMetadata, "%q", bad)
	}
}

func TestV2HeaderRefusals(t *testing.T) {
	b := make([]byte, frame.RequestHeaderSizeV2)
	frame.PutRequestHeaderV2(b, frame.RequestHeader{Method: 1, ID: 1, Metadata: frame.MaxMetadataSize + 1})
	_, err := frame.ParseRequestHeaderV2(b)
	require.ErrorIs(t, err, frame.ErrMetadata, "a block over the limit is refused from the header")

	frame.PutRequestHeaderV2(b, frame.RequestHeader{Method: 1, ID: 1})
	b[32] = 2 // no such kind
	_, err = frame.ParseRequestHeaderV2(b)
	require.ErrorIs(t, err, frame.ErrReserved)

	frame.PutRequestHeaderV2(b, frame.RequestHeader{Kind: frame.KindCancel, ID: 1})
	b[7] = 1 // a cancel frame with a method
	_, err = frame.ParseRequestHeaderV2(b)
	require.ErrorIs(t, err, frame.ErrReserved)

	frame.PutRequestHeaderV2(b, frame.RequestHeader{Kind: frame.KindCancel, ID: 5, Method: 3, Length: 4})
	h, err := frame.ParseRequestHeaderV2(b)
	require.NoError(t, err)
	assert.Equal(t, frame.RequestHeader{Kind: frame.KindCancel, ID: 5}, h, "a cancel frame encodes only its ID")

	r := make([]byte, frame.ResponseHeaderSizeV2)
	frame.PutResponseHeaderV2(r, frame.ResponseHeader{ID: 1})
	r[31] = 1
	_, err = frame.ParseResponseHeaderV2(r)
	require.ErrorIs(t, err, frame.ErrReserved)
	frame.PutResponseHeaderV2(r, frame.ResponseHeader{ID: 1, Metadata: 1 << 31})
	_, err = frame.ParseResponseHeaderV2(r)
	require.ErrorIs(t, err, frame.ErrMetadata)
}

func TestCapabilitiesV2(t *testing.T) {
	caps := frame.Capabilities{
		Methods:  []frame.Capability{{Name: "echo", ReturningEncoding: "raw"}},
		Features: []string{frame.VersionFeature(1), frame.VersionFeature(2), frame.FeatureCancel},
	}
	b, err := frame.AppendCapabilitiesV2(nil, caps)
	require.NoError(t, err)
	got, err := frame.ParseCapabilitiesV2(b)
	require.NoError(t, err)
	assert.Equal(t, caps, got)
	assert.True(t, got.Has("version.2"))
	assert.False(t, got.Has(frame.FeatureMetadata))

	_, err = frame.ParseCapabilities(b)
	require.ErrorIs(t, err, frame.ErrCapabilities, "a version 1 parser refuses the features")
	v1, err := frame.AppendCapabilities(nil, caps.Methods)
	require.NoError(t, err)
	_, err = frame.ParseCapabilitiesV2(v1)
	require.ErrorIs(t, err, frame.ErrCapabilities, "features are not optional in version 2")
	_, err = frame.ParseCapabilitiesV2(append(v1, 0xff, 0xff))
	require.ErrorIs(t, err, frame.ErrCapabilities, "a count beyond the bytes present")
}

func TestIdempotentFeature(t *testing.T) {
	caps := frame.Capabilities{Features: []string{
		frame.VersionFeature(2), frame.IdempotentFeature("get"), "idempotent.", frame.IdempotentFeature("put.same"), "idempotentx",
	}}
	assert.Equal(t, "idempotent.get", frame.IdempotentFeature("get"))
	assert.Equal(t, []string{"get", "put.same"}, caps.Idempotent(), "an empty name and other features are not methods")
	assert.Empty(t, frame.Capabilities{}.Idempotent())
}
