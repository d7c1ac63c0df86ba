package frame_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
)

// addSeeds seeds f with every vector (of every kind, so each target also
// sees frames of the wrong shape) plus a few hand-made edge cases.
func addSeeds(f *testing.F, extra ...string) {
	for _, v := range loadVectors(f) {
		f.Add(v.data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
	f.Add([]byte{})
}

func FuzzParseRequestHeader(f *testing.F) {
	addSeeds(f,
		string(bytes.Repeat([]byte{0xff}, frame.RequestHeaderSize)),
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := frame.ParseRequestHeader(data)
		if len(data) < frame.RequestHeaderSize {
			require.ErrorIs(t, err, frame.ErrShort)
			return
		}
		if err != nil {
			require.ErrorIs(t, err, frame.ErrReserved)
			require.NotZero(t, binary.BigEndian.Uint64(data[24:32]))
			return
		}
		require.GreaterOrEqual(t, h.Timeout, 0*h.Timeout)
		out := make([]byte, frame.RequestHeaderSize)
		frame.PutRequestHeader(out, h)
		want := bytes.Clone(data[:frame.RequestHeaderSize])
		// Timeouts beyond time.Duration decode clamped to its maximum.
		if binary.BigEndian.Uint64(want[16:]) > math.MaxInt64 {
			binary.BigEndian.PutUint64(want[16:], math.MaxInt64)
		}
		require.Equal(t, want, out)
	})
}

func FuzzParseResponseHeader(f *testing.F) {
	addSeeds(f, string(bytes.Repeat([]byte{0xff}, frame.ResponseHeaderSize)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := frame.ParseResponseHeader(data)
		if len(data) < frame.ResponseHeaderSize {
			require.ErrorIs(t, err, frame.ErrShort)
			return
		}
		if err != nil {
			require.ErrorIs(t, err, frame.ErrReserved)
			require.NotZero(t, data[1]|data[2]|data[3])
			return
		}
		_ = h.Status.String()
		out := make([]byte, frame.ResponseHeaderSize)
		frame.PutResponseHeader(out, h)
		require.Equal(t, data[:frame.ResponseHeaderSize], out)
	})
}

func FuzzParsePreface(f *testing.F) {
	addSeeds(f, "GET / HTTP/1.1\r\n", "FRPC\x00\x02\x00\x00", "FRPC\xff\xff\xff\xff")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := frame.ParsePreface(data)
		if len(data) < frame.PrefaceSize {
			require.ErrorIs(t, err, frame.ErrShort)
			return
		}
		var ve *frame.VersionError
		switch {
		case err == nil:
			require.True(t, p.Version >= frame.Version1 && p.Version <= frame.MaxVersion, "accepted version %d", p.Version)
		case errors.As(err, &ve):
			require.Equal(t, frame.MaxVersion, ve.Local)
			require.Equal(t, p.Version, ve.Remote)
			require.True(t, p.Version < frame.Version1 || p.Version > frame.MaxVersion, "refused version %d", p.Version)
		default:
			require.ErrorIs(t, err, frame.ErrBadMagic)
			require.NotEqual(t, "FRPC", string(data[:4]))
			return
		}
		_ = p.Status.String()
		out := make([]byte, frame.PrefaceSize)
		frame.PutPreface(out, p)
		require.Equal(t, data[:frame.PrefaceSize], out)
	})
}

func FuzzParseCapabilities(f *testing.F) {
	addSeeds(f,
		"\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00",
		"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
		"\x00\x00\x00\x01\xff\xff",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		caps, err := frame.ParseCapabilities(data)
		if err != nil {
			require.ErrorIs(t, err, frame.ErrCapabilities)
			require.Nil(t, caps)
			return
		}
		// Each entry takes at least 8 bytes, so the count is bounded by the input.
		require.LessOrEqual(t, len(caps), (len(data)-4)/8)
		out, err := frame.AppendCapabilities(nil, caps)
		require.NoError(t, err)
		require.Equal(t, data, out)
	})
}

func FuzzParseRequestHeaderV2(f *testing.F) {
	addSeeds(f, string(bytes.Repeat([]byte{0xff}, frame.RequestHeaderSizeV2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := frame.ParseRequestHeaderV2(data)
		if len(data) < frame.RequestHeaderSizeV2 {
			require.ErrorIs(t, err, frame.ErrShort)
			return
		}
		if err != nil {
			if errors.Is(err, frame.ErrMetadata) {
				require.Greater(t, binary.BigEndian.Uint32(data[36:]), uint32(frame.MaxMetadataSize))
				return
			}
			require.ErrorIs(t, err, frame.ErrReserved)
			return
		}
		require.LessOrEqual(t, h.Metadata, uint32(frame.MaxMetadataSize))
		out := make([]byte, frame.RequestHeaderSizeV2)
		frame.PutRequestHeaderV2(out, h)
		want := bytes.Clone(data[:frame.RequestHeaderSizeV2])
		if binary.BigEndian.Uint64(want[16:]) > math.MaxInt64 {
			binary.BigEndian.PutUint64(want[16:], math.MaxInt64)
		}
		require.Equal(t, want, out)
	})
}

func FuzzParseResponseHeaderV2(f *testing.F) {
	addSeeds(f, string(bytes.Repeat([]byte{0xff}, frame.ResponseHeaderSizeV2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := frame.ParseResponseHeaderV2(data)
		if len(data) < frame.ResponseHeaderSizeV2 {
			require.ErrorIs(t, err, frame.ErrShort)
			return
		}
		if err != nil {
			if !errors.Is(err, frame.ErrMetadata) {
				require.ErrorIs(t, err, frame.ErrReserved)
			}
			return
		}
		out := make([]byte, frame.ResponseHeaderSizeV2)
		frame.PutResponseHeaderV2(out, h)
		require.Equal(t, data[:frame.ResponseHeaderSizeV2], out)
	})
}

func FuzzParseMetadata(f *testing.F) {
	addSeeds(f, "\x01k\x00\x01v", "\x01K\x00\x00", "\x00\x00\x00", "\x01k\xff\xff")
	f.Fuzz(func(t *testing.T, data []byte) {
		var got [][2]string
		n, err := frame.ParseMetadata(data, func(k, v []byte) { got = append(got, [2]string{string(k), string(v)}) })
		if err != nil {
			require.ErrorIs(t, err, frame.ErrMetadata)
			require.Empty(t, got, "a malformed block shows no pair")
			return
		}
		require.Len(t, got, n)
		require.LessOrEqual(t, n, frame.MaxMetadataPairs)
		var out []byte
		for _, p := range got {
			require.NoError(t, frame.CheckMetadataKey(p[0]))
			out = frame.AppendMetadataPair(out, p[0], p[1])
		}
		if len(data) == 0 {
			require.Empty(t, out)
			return
		}
		require.Equal(t, data, out)
	})
}

func FuzzParseCapabilitiesV2(f *testing.F) {
	addSeeds(f, "\x00\x00\x00\x00\xff\xff", "\x00\x00\x00\x00\x00\x01\x00\x01x")
	f.Fuzz(func(t *testing.T, data []byte) {
		caps, err := frame.ParseCapabilitiesV2(data)
		if err != nil {
			require.ErrorIs(t, err, frame.ErrCapabilities)
			return
		}
		out, err := frame.AppendCapabilitiesV2(nil, caps)
		require.NoError(t, err)
		require.Equal(t, data, out)
	})
}
