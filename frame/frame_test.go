package frame_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
)

// vector is one line of testdata/vectors.txt.
type vector struct {
	kind, name string
	hex        string
	data       []byte
	line       int
}

// loadVectors reads testdata/vectors.txt.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	f, err := os.Open("testdata/vectors.txt")
	require.NoError(tb, err)
	defer f.Close()

	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(tb, fields, 3, "vectors.txt:%d: want \"<kind> <name> <hex>\"", n)
		data, err := hex.DecodeString(fields[2])
		require.NoError(tb, err, "vectors.txt:%d: bad hex", n)
		vs = append(vs, vector{kind: fields[0], name: fields[1], hex: strings.ToLower(fields[2]), data: data, line: n})
	}
	require.NoError(tb, sc.Err())
	require.NotEmpty(tb, vs)
	return vs
}

// The values the vectors stand for, by kind and name.
var (
	wantPrefaces = map[string]frame.Preface{
		"slave":                {Version: 1, Status: 0},
		"master-ok":            {Version: 1, Status: frame.HandshakeOK},
		"master-overloaded":    {Version: 1, Status: frame.HandshakeOverloaded},
		"master-shutting-down": {Version: 1, Status: frame.HandshakeShuttingDown},
		"slave-offers-2":       frame.SlavePreface(2),
		"master-v2-ok":         {Version: 2, Status: frame.HandshakeOK},
	}
	wantRequests2 = map[string]frame.RequestHeader{
		"ping":          {Method: frame.MethodID("ping"), Length: 4, Timeout: 1500 * time.Millisecond, ID: 1},
		"echo-metadata": {Method: frame.MethodID("echo"), ID: 0x0102030405060708, Metadata: frame.MaxMetadataSize},
		"cancel":        {Kind: frame.KindCancel, ID: 7},
	}
	wantResponses2 = map[string]frame.ResponseHeader{
		"ok":        {Status: frame.StatusOK, Length: 4, ID: 1},
		"cancelled": {Status: frame.StatusCancelled, Length: 9, ID: 7, Metadata: 19},
		"notice":    {Status: frame.StatusShuttingDown},
	}
	wantMetadata = map[string][][2]string{
		"one":   {{"k", "v"}},
		"three": {{"authorization", "Bearer t0k"}, {"x-id", ""}, {"x-id", "\x00\xff"}},
	}
	wantCapabilities2 = map[string]frame.Capabilities{
		"one": {
			Methods:  []frame.Capability{{Name: "capabilities", ReturningEncoding: frame.CapabilitiesEncodingV2}},
			Features: []string{"version.1", "version.2", frame.FeatureMetadata, frame.FeatureCancel},
		},
	}
	wantRequests = map[string]frame.RequestHeader{
		"ping":         {Method: frame.MethodID("ping"), Length: 4, Timeout: 1500 * time.Millisecond},
		"capabilities": {Method: 0, Length: 0, Timeout: 0},
		"max-length":   {Method: frame.MethodID("a"), Length: math.MaxUint64},
		"max-timeout":  {Method: frame.MethodID("echo"), Length: 0x0102030405060708, Timeout: math.MaxInt64},
	}
	wantResponses = map[string]frame.ResponseHeader{
		"ok":                {Status: frame.StatusOK, Code: 0, Length: 0x0102030405060708},
		"application-error": {Status: frame.StatusApplicationError, Code: 0xdeadbeef, Length: 11},
		"unknown-method":    {Status: frame.StatusUnknownMethod, Code: 7, Length: 14},
		"request-too-large": {Status: frame.StatusRequestTooLarge, Code: 0x01020304, Length: 0x10000},
		"handler-panic":     {Status: frame.StatusHandlerPanic, Code: math.MaxUint32, Length: 13},
		"shutting-down":     {Status: frame.StatusShuttingDown, Code: 1, Length: 0},
		"deadline-exceeded": {Status: frame.StatusDeadlineExceeded, Code: 42, Length: math.MaxUint64},
		"permission-denied": {Status: frame.StatusPermissionDenied, Code: 0, Length: 17},
	}
	wantCapabilities = map[string][]frame.Capability{
		"empty": {},
		"two": {
			{Name: "capabilities", Description: "lists methods", IncomingEncoding: "", ReturningEncoding: frame.CapabilitiesEncoding},
			{Name: "ping", Description: "répond «pong» 😀", IncomingEncoding: "raw", ReturningEncoding: "utf-8"},
		},
	}
	// Method names of the methodid vectors; "-" stands for "".
	wantMethodIDs = map[string]string{
		"ping":         "ping",
		"capabilities": "capabilities",
		"-":            "",
		"a":            "a",
		"echo":         "echo",
	}
)

func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	seen := map[string]map[string]bool{}
	for _, v := range vs {
		if seen[v.kind] == nil {
			seen[v.kind] = map[string]bool{}
		}
		require.False(t, seen[v.kind][v.name], "vectors.txt:%d: duplicate %s %s", v.line, v.kind, v.name)
		seen[v.kind][v.name] = true

		t.Run(v.kind+"/"+v.name, func(t *testing.T) {
			switch v.kind {
			case "preface":
				want, ok := wantPrefaces[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.data, frame.PrefaceSize)
				got, err := frame.ParsePreface(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b := make([]byte, frame.PrefaceSize)
				frame.PutPreface(b, want)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "request":
				want, ok := wantRequests[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.data, frame.RequestHeaderSize)
				got, err := frame.ParseRequestHeader(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b := make([]byte, frame.RequestHeaderSize)
				frame.PutRequestHeader(b, want)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "response":
				want, ok := wantResponses[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.data, frame.ResponseHeaderSize)
				got, err := frame.ParseResponseHeader(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b := make([]byte, frame.ResponseHeaderSize)
				frame.PutResponseHeader(b, want)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "capabilities":
				want, ok := wantCapabilities[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				got, err := frame.ParseCapabilities(v.data)
				require.NoError(t, err)
				if len(want) == 0 {
					assert.Empty(t, got)
				} else {
					assert.Equal(t, want, got)
				}
				b, err := frame.AppendCapabilities(nil, want)
				require.NoError(t, err)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "request2":
				want, ok := wantRequests2[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.data, frame.RequestHeaderSizeV2)
				got, err := frame.ParseRequestHeaderV2(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b := make([]byte, frame.RequestHeaderSizeV2)
				frame.PutRequestHeaderV2(b, want)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "response2":
				want, ok := wantResponses2[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.data, frame.ResponseHeaderSizeV2)
				got, err := frame.ParseResponseHeaderV2(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b := make([]byte, frame.ResponseHeaderSizeV2)
				frame.PutResponseHeaderV2(b, want)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "metadata":
				want, ok := wantMetadata[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				var got [][2]string
				n, err := frame.ParseMetadata(v.data, func(k, val []byte) { got = append(got, [2]string{string(k), string(val)}) })
				require.NoError(t, err)
				assert.Equal(t, len(want), n)
				assert.Equal(t, want, got)
				var b []byte
				for _, p := range want {
					b = frame.AppendMetadataPair(b, p[0], p[1])
				}
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "capabilities2":
				want, ok := wantCapabilities2[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				got, err := frame.ParseCapabilitiesV2(v.data)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				b, err := frame.AppendCapabilitiesV2(nil, want)
				require.NoError(t, err)
				assert.Equal(t, v.hex, hex.EncodeToString(b))

			case "methodid":
				name, ok := wantMethodIDs[v.name]
				require.True(t, ok, "no expected value for %s", v.name)
				require.Len(t, v.hex, 16)
				want, err := strconv.ParseUint(v.hex, 16, 64)
				require.NoError(t, err)
				assert.Equal(t, want, frame.MethodID(name), "MethodID(%q) = %016x, want %s", name, frame.MethodID(name), v.hex)

			default:
				t.Fatalf("vectors.txt:%d: unknown kind %q", v.line, v.kind)
			}
		})
	}

	// Every expected value has a vector.
	for name := range wantPrefaces {
		assert.True(t, seen["preface"][name], "no preface vector %q", name)
	}
	for name := range wantRequests {
		assert.True(t, seen["request"][name], "no request vector %q", name)
	}
	for name := range wantResponses {
		assert.True(t, seen["response"][name], "no response vector %q", name)
	}
	for name := range wantCapabilities {
		assert.True(t, seen["capabilities"][name], "no capabilities vector %q", name)
	}
	for kind, names := range map[string][]string{
		"request2": keys(wantRequests2), "response2": keys(wantResponses2),
		"metadata": keys(wantMetadata), "capabilities2": keys(wantCapabilities2),
	} {
		for _, name := range names {
			assert.True(t, seen[kind][name], "no %s vector %q", kind, name)
		}
	}
	for name := range wantMethodIDs {
		assert.True(t, seen["methodid"][name], "no methodid vector %q", name)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestShortBuffers(t *testing.T) {
	full := make([]byte, frame.RequestHeaderSize)
	copy(full, "FRPC\x00\x01")
	for n := 0; n < frame.PrefaceSize; n++ {
		_, err := frame.ParsePreface(full[:n])
		assert.ErrorIs(t, err, frame.ErrShort, "preface of %d bytes", n)
	}
	for n := 0; n < frame.RequestHeaderSize; n++ {
		_, err := frame.ParseRequestHeader(full[:n])
		assert.ErrorIs(t, err, frame.ErrShort, "request header of %d bytes", n)
	}
	for n := 0; n < frame.ResponseHeaderSize; n++ {
		_, err := frame.ParseResponseHeader(full[:n])
		assert.ErrorIs(t, err, frame.ErrShort, "response header of %d bytes", n)
	}
	var nilBuf []byte
	_, err := frame.ParsePreface(nilBuf)
	assert.ErrorIs(t, err, frame.ErrShort)
	_, err = frame.ParseRequestHeader(nilBuf)
	assert.ErrorIs(t, err, frame.ErrShort)
	_, err = frame.ParseResponseHeader(nilBuf)
	assert.ErrorIs(t, err, frame.ErrShort)
}

func TestPutPanicsOnShortBuffer(t *testing.T) {
	assert.Panics(t, func() { frame.PutPreface(make([]byte, frame.PrefaceSize-1), frame.Preface{}) })
	assert.Panics(t, func() { frame.PutRequestHeader(make([]byte, frame.RequestHeaderSize-1), frame.RequestHeader{}) })
	assert.Panics(t, func() { frame.PutResponseHeader(make([]byte, frame.ResponseHeaderSize-1), frame.ResponseHeader{}) })
}

// Encoders write exactly their frame and decoders read only their frame.
func TestLongerBuffers(t *testing.T) {
	b := bytes.Repeat([]byte{0xAA}, 64)
	frame.PutPreface(b, frame.Preface{Version: frame.Version1})
	assert.Equal(t, bytes.Repeat([]byte{0xAA}, 64-frame.PrefaceSize), b[frame.PrefaceSize:])
	p, err := frame.ParsePreface(b)
	require.NoError(t, err)
	assert.Equal(t, frame.Preface{Version: frame.Version1}, p)

	b = bytes.Repeat([]byte{0xAA}, 64)
	frame.PutRequestHeader(b, frame.RequestHeader{Method: 1, Length: 2, Timeout: 3})
	assert.Equal(t, bytes.Repeat([]byte{0xAA}, 64-frame.RequestHeaderSize), b[frame.RequestHeaderSize:])
	rq, err := frame.ParseRequestHeader(b)
	require.NoError(t, err)
	assert.Equal(t, frame.RequestHeader{Method: 1, Length: 2, Timeout: 3}, rq)

	b = bytes.Repeat([]byte{0xAA}, 64)
	frame.PutResponseHeader(b, frame.ResponseHeader{Status: frame.StatusHandlerPanic, Code: 5, Length: 6})
	assert.Equal(t, bytes.Repeat([]byte{0xAA}, 64-frame.ResponseHeaderSize), b[frame.ResponseHeaderSize:])
	rs, err := frame.ParseResponseHeader(b)
	require.NoError(t, err)
	assert.Equal(t, frame.ResponseHeader{Status: frame.StatusHandlerPanic, Code: 5, Length: 6}, rs)
}

// The encoders overwrite reserved fields even when the buffer held garbage.
func TestPutClearsReserved(t *testing.T) {
	b := bytes.Repeat([]byte{0xFF}, frame.RequestHeaderSize)
	frame.PutRequestHeader(b, frame.RequestHeader{Method: 9})
	_, err := frame.ParseRequestHeader(b)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 8), b[24:32])

	b = bytes.Repeat([]byte{0xFF}, frame.ResponseHeaderSize)
	frame.PutResponseHeader(b, frame.ResponseHeader{Status: frame.StatusOK})
	_, err = frame.ParseResponseHeader(b)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0}, b[1:4])
}

func TestBadMagic(t *testing.T) {
	for _, in := range []string{
		"GET / HT",             // an HTTP client
		"FRPX\x00\x01\x00\x00", // one byte off
		"frpc\x00\x01\x00\x00", // wrong case
		"\x00\x00\x00\x00\x00\x01\x00\x00",
		"SSH-2.0-",
	} {
		p, err := frame.ParsePreface([]byte(in))
		assert.ErrorIs(t, err, frame.ErrBadMagic, "%q", in)
		var ve *frame.VersionError
		assert.False(t, errors.As(err, &ve), "%q", in)
		assert.Equal(t, frame.Preface{}, p)
	}
}

func TestOtherVersion(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want frame.Preface
	}{
		{"46525043 0003 0001", frame.Preface{Version: 3, Status: frame.HandshakeOverloaded}},
		{"46525043 0000 0000", frame.Preface{Version: 0, Status: 0}},
		{"46525043 ffff 0102", frame.Preface{Version: 0xffff, Status: 0x0102}},
	} {
		p, err := frame.ParsePreface(mustHex(t, tc.hex))
		require.Error(t, err, tc.hex)
		var ve *frame.VersionError
		require.True(t, errors.As(err, &ve), "%s: %v is not a *VersionError", tc.hex, err)
		assert.Equal(t, frame.MaxVersion, ve.Local)
		assert.Equal(t, tc.want.Version, ve.Remote)
		assert.NotErrorIs(t, err, frame.ErrBadMagic)
		assert.Equal(t, tc.want, p, "the preface is still filled in")
		assert.Contains(t, err.Error(), strconv.Itoa(int(tc.want.Version)))
	}
}

func TestRequestReserved(t *testing.T) {
	base := make([]byte, frame.RequestHeaderSize)
	frame.PutRequestHeader(base, frame.RequestHeader{Method: frame.MethodID("ping"), Length: 4, Timeout: time.Second})
	_, err := frame.ParseRequestHeader(base)
	require.NoError(t, err)

	// Every single bit of flags (bytes 24..27) and reserved (bytes 28..31).
	for i := 24; i < 32; i++ {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(base)
			b[i] |= 1 << bit
			_, err := frame.ParseRequestHeader(b)
			assert.ErrorIs(t, err, frame.ErrReserved, "byte %d bit %d", i, bit)
		}
	}

	// An encoded nonzero Flags is rejected by the receiver.
	b := make([]byte, frame.RequestHeaderSize)
	frame.PutRequestHeader(b, frame.RequestHeader{Flags: 1})
	assert.Equal(t, "00000001", hex.EncodeToString(b[24:28]))
	_, err = frame.ParseRequestHeader(b)
	assert.ErrorIs(t, err, frame.ErrReserved)
}

func TestResponseReserved(t *testing.T) {
	base := make([]byte, frame.ResponseHeaderSize)
	frame.PutResponseHeader(base, frame.ResponseHeader{Status: frame.StatusApplicationError, Code: 3, Length: 5})
	_, err := frame.ParseResponseHeader(base)
	require.NoError(t, err)

	for i := 1; i < 4; i++ {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(base)
			b[i] |= 1 << bit
			_, err := frame.ParseResponseHeader(b)
			assert.ErrorIs(t, err, frame.ErrReserved, "byte %d bit %d", i, bit)
		}
	}
}

// A status this version does not define is returned as is.
func TestResponseUndefinedStatus(t *testing.T) {
	h, err := frame.ParseResponseHeader(mustHex(t, "ff000000 00000001 0000000000000002"))
	require.NoError(t, err)
	assert.Equal(t, frame.ResponseHeader{Status: 0xff, Code: 1, Length: 2}, h)
}

func TestNegativeTimeout(t *testing.T) {
	for _, d := range []time.Duration{-1, -time.Second, math.MinInt64} {
		b := make([]byte, frame.RequestHeaderSize)
		frame.PutRequestHeader(b, frame.RequestHeader{Method: 1, Timeout: d})
		assert.Equal(t, "0000000000000001", hex.EncodeToString(b[16:24]), "timeout %v", d)
		h, err := frame.ParseRequestHeader(b)
		require.NoError(t, err)
		assert.Equal(t, time.Nanosecond, h.Timeout)
	}
}

func TestTimeoutClamped(t *testing.T) {
	for _, raw := range []uint64{1 << 63, 1<<63 + 1, math.MaxUint64} {
		b := make([]byte, frame.RequestHeaderSize)
		binary.BigEndian.PutUint64(b[16:], raw)
		h, err := frame.ParseRequestHeader(b)
		require.NoError(t, err)
		assert.Equal(t, time.Duration(math.MaxInt64), h.Timeout, "raw %#x", raw)
	}
	// MaxInt64 itself is not clamped and round-trips.
	b := make([]byte, frame.RequestHeaderSize)
	binary.BigEndian.PutUint64(b[16:], math.MaxInt64)
	h, err := frame.ParseRequestHeader(b)
	require.NoError(t, err)
	assert.Equal(t, time.Duration(math.MaxInt64), h.Timeout)
}

func TestAppendCapabilitiesTooLong(t *testing.T) {
	long := strings.Repeat("x", frame.MaxStringLen+1)
	for field := 0; field < 4; field++ {
		c := frame.Capability{Name: "n", Description: "d", IncomingEncoding: "i", ReturningEncoding: "r"}
		switch field {
		case 0:
			c.Name = long
		case 1:
			c.Description = long
		case 2:
			c.IncomingEncoding = long
		case 3:
			c.ReturningEncoding = long
		}
		// The bad entry comes second so a partial write would show.
		caps := []frame.Capability{{Name: "ok"}, c}
		prefix := make([]byte, 3, 1<<10)
		copy(prefix, "pre")
		out, err := frame.AppendCapabilities(prefix, caps)
		require.Error(t, err, "field %d", field)
		assert.Equal(t, []byte("pre"), out, "field %d: appended something", field)
		assert.Equal(t, make([]byte, 16), prefix[3:cap(prefix)][:16], "field %d: wrote past len", field)
	}

	// Exactly MaxStringLen is fine and round-trips.
	maxStr := strings.Repeat("y", frame.MaxStringLen)
	caps := []frame.Capability{{Name: maxStr, Description: maxStr, IncomingEncoding: maxStr, ReturningEncoding: maxStr}}
	body, err := frame.AppendCapabilities(nil, caps)
	require.NoError(t, err)
	assert.Len(t, body, 4+4*(2+frame.MaxStringLen))
	got, err := frame.ParseCapabilities(body)
	require.NoError(t, err)
	assert.Equal(t, caps, got)
}

func capsVector(t *testing.T, name string) []byte {
	t.Helper()
	for _, v := range loadVectors(t) {
		if v.kind == "capabilities" && v.name == name {
			return v.data
		}
	}
	t.Fatalf("no capabilities vector %q", name)
	return nil
}

func TestParseCapabilitiesTruncated(t *testing.T) {
	body := capsVector(t, "two")
	for n := 0; n < len(body); n++ {
		caps, err := frame.ParseCapabilities(body[:n])
		assert.ErrorIs(t, err, frame.ErrCapabilities, "truncated to %d of %d bytes", n, len(body))
		assert.Nil(t, caps)
	}
}

func TestParseCapabilitiesTrailing(t *testing.T) {
	for _, name := range []string{"empty", "two"} {
		body := capsVector(t, name)
		for _, tail := range []string{"\x00", "\x00\x00", "junk"} {
			caps, err := frame.ParseCapabilities(append(bytes.Clone(body), tail...))
			assert.ErrorIs(t, err, frame.ErrCapabilities, "%s + %q", name, tail)
			assert.Nil(t, caps)
		}
	}
}

func TestParseCapabilitiesCountLimit(t *testing.T) {
	// 16 bytes hold at most two entries of four empty strings.
	two := mustHex(t, "00000002"+strings.Repeat("00", 16))
	caps, err := frame.ParseCapabilities(two)
	require.NoError(t, err)
	assert.Equal(t, []frame.Capability{{}, {}}, caps)

	three := mustHex(t, "00000003"+strings.Repeat("00", 16))
	_, err = frame.ParseCapabilities(three)
	assert.ErrorIs(t, err, frame.ErrCapabilities)
}

// A huge count in a small body is refused before anything is allocated for
// it: 0xFFFFFFFF entries would be hundreds of gigabytes.
func TestParseCapabilitiesHugeCount(t *testing.T) {
	body := mustHex(t, "ffffffff"+strings.Repeat("00", 32))
	start := time.Now()
	caps, err := frame.ParseCapabilities(body)
	assert.ErrorIs(t, err, frame.ErrCapabilities)
	assert.Nil(t, caps)
	assert.Less(t, time.Since(start), time.Second)

	// Only the error itself is allocated: a handful of small objects.
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = frame.ParseCapabilities(body)
	})
	assert.LessOrEqual(t, allocs, 8.0)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		_, _ = frame.ParseCapabilities(body)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by 100 calls")
}

func TestMethodID(t *testing.T) {
	assert.Equal(t, uint64(0), frame.MethodID("capabilities"))
	assert.Equal(t, uint64(0), frame.MethodID(frame.CapabilitiesName))
	for _, name := range []string{"ping", "", "a", "echo", "Capabilities", "capabilities ", "capabilitie", "frame.Echo", "répond"} {
		assert.NotEqual(t, uint64(0), frame.MethodID(name), "MethodID(%q)", name)
	}
	// Stable: the same name always gives the same ID.
	assert.Equal(t, frame.MethodID("ping"), frame.MethodID(string([]byte("ping"))))
	assert.NotEqual(t, frame.MethodID("ping"), frame.MethodID("pong"))
}

func TestStatusString(t *testing.T) {
	for s, want := range map[frame.Status]string{
		frame.StatusOK:               "ok",
		frame.StatusApplicationError: "application error",
		frame.StatusUnknownMethod:    "unknown method",
		frame.StatusRequestTooLarge:  "request too large",
		frame.StatusHandlerPanic:     "handler panic",
		frame.StatusShuttingDown:     "master shutting down",
		frame.StatusDeadlineExceeded: "deadline exceeded",
		frame.StatusPermissionDenied: "permission denied",
		frame.StatusCancelled:        "cancelled",
		9:                            "status 9",
		255:                          "status 255",
	} {
		assert.Equal(t, want, s.String())
	}
}

func TestHandshakeStatusString(t *testing.T) {
	for s, want := range map[frame.HandshakeStatus]string{
		frame.HandshakeOK:           "ok",
		frame.HandshakeOverloaded:   "overloaded",
		frame.HandshakeShuttingDown: "shutting down",
		3:                           "handshake status 3",
		65535:                       "handshake status 65535",
	} {
		assert.Equal(t, want, s.String())
	}
}

func TestVersionErrorMessage(t *testing.T) {
	err := &frame.VersionError{Local: 1, Remote: 2}
	assert.Contains(t, err.Error(), "version 2")
	assert.Contains(t, err.Error(), "speaks 1")
}

var (
	sinkPreface  frame.Preface
	sinkRequest  frame.RequestHeader
	sinkResponse frame.ResponseHeader
	sinkID       uint64
	sinkErr      error
)

func TestZeroAllocs(t *testing.T) {
	var pre [frame.PrefaceSize]byte
	var req [frame.RequestHeaderSize]byte
	var resp [frame.ResponseHeaderSize]byte
	rh := frame.RequestHeader{Method: frame.MethodID("ping"), Length: 4, Timeout: time.Second}
	sh := frame.ResponseHeader{Status: frame.StatusApplicationError, Code: 3, Length: 5}
	pp := frame.Preface{Version: frame.Version1, Status: frame.HandshakeOverloaded}
	var req2 [frame.RequestHeaderSizeV2]byte
	var resp2 [frame.ResponseHeaderSizeV2]byte
	rh2 := frame.RequestHeader{Method: 9, Length: 4, ID: 3, Metadata: 12}
	sh2 := frame.ResponseHeader{Status: frame.StatusOK, Length: 5, ID: 3, Metadata: 7}
	frame.PutRequestHeaderV2(req2[:], rh2)
	frame.PutResponseHeaderV2(resp2[:], sh2)
	md := frame.AppendMetadataPair(frame.AppendMetadataPair(nil, "a", "b"), "traceparent", "00-x")
	count := func(k, v []byte) { sinkID += uint64(len(k) + len(v)) }
	frame.PutPreface(pre[:], pp)
	frame.PutRequestHeader(req[:], rh)
	frame.PutResponseHeader(resp[:], sh)
	name := "some.method.name"

	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"PutRequestHeader", func() { frame.PutRequestHeader(req[:], rh) }},
		{"ParseRequestHeader", func() { sinkRequest, sinkErr = frame.ParseRequestHeader(req[:]) }},
		{"PutResponseHeader", func() { frame.PutResponseHeader(resp[:], sh) }},
		{"ParseResponseHeader", func() { sinkResponse, sinkErr = frame.ParseResponseHeader(resp[:]) }},
		{"PutPreface", func() { frame.PutPreface(pre[:], pp) }},
		{"ParsePreface", func() { sinkPreface, sinkErr = frame.ParsePreface(pre[:]) }},
		{"MethodID", func() { sinkID = frame.MethodID(name) }},
		{"PutRequestHeaderV2", func() { frame.PutRequestHeaderV2(req2[:], rh2) }},
		{"ParseRequestHeaderV2", func() { sinkRequest, sinkErr = frame.ParseRequestHeaderV2(req2[:]) }},
		{"PutResponseHeaderV2", func() { frame.PutResponseHeaderV2(resp2[:], sh2) }},
		{"ParseResponseHeaderV2", func() { sinkResponse, sinkErr = frame.ParseResponseHeaderV2(resp2[:]) }},
		{"ParseMetadata", func() { _, sinkErr = frame.ParseMetadata(md, count) }},
	} {
		assert.Zero(t, testing.AllocsPerRun(1000, tc.f), tc.name)
	}
	require.NoError(t, sinkErr)
}
