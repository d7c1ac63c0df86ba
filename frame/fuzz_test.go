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
			require.Equal(t, frame.Version, p.Version)
		case errors.As(err, &ve):
			require.Equal(t, frame.Version, ve.Local)
			require.Equal(t, p.Version, ve.Remote)
			require.NotEqual(t, frame.Version, p.Version)
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
