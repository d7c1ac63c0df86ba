package codec_test

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/module"
)

// structured are the codecs that encode arbitrary Go values.
var structured = []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON}

type Inner struct {
	Name  string           `json:"name"`
	Tags  []string         `json:"tags"`
	Attrs map[string]int64 `json:"attrs"`
	Blob  []byte           `json:"blob"`
}

type Rich struct {
	ID       int64            `json:"id"`
	Min      int64            `json:"min"`
	U        uint64           `json:"u"`
	F        float64          `json:"f"`
	OK       bool             `json:"ok"`
	Text     string           `json:"text"`
	Inner    Inner            `json:"inner"`
	PInner   *Inner           `json:"p_inner"`
	NilPtr   *Inner           `json:"nil_ptr"`
	PInt     *int             `json:"p_int"`
	List     []Inner          `json:"list"`
	NilList  []int            `json:"nil_list"`
	Empty    []int            `json:"empty"`
	NilBlob  []byte           `json:"nil_blob"`
	EmptyBlb []byte           `json:"empty_blob"`
	ByKey    map[string]Inner `json:"by_key"`
	NilMap   map[string]int   `json:"nil_map"`
	When     time.Time        `json:"when"`
	Zero     time.Time        `json:"zero"`
	PWhen    *time.Time       `json:"p_when"`
}

const unicodeText = "héllo, wörld — 世界 🚀 ℵ₀ \u0000 tab\t \"quoted\" <html>&"

var when = time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("IST", 5*3600+30*60))

func sample() Rich {
	seven := 7
	pw := when.Add(time.Hour)
	return Rich{
		ID: math.MaxInt64, Min: math.MinInt64, U: math.MaxUint64, F: math.Pi, OK: true,
		Text: unicodeText,
		Inner: Inner{
			Name: "inner", Tags: []string{"a", "", "ü"},
			Attrs: map[string]int64{"x": 1, "y": -2, "ключ": 3}, Blob: []byte{0, 1, 2, 0xff},
		},
		PInner:   &Inner{Name: "pointed", Tags: []string{}, Attrs: map[string]int64{}},
		PInt:     &seven,
		List:     []Inner{{Name: "one"}, {Name: "two", Blob: []byte("2")}},
		Empty:    []int{},
		EmptyBlb: []byte{},
		ByKey:    map[string]Inner{"k": {Name: "v"}, "": {Name: "empty key"}},
		When:     when,
		PWhen:    &pw,
	}
}

// requireSame compares two Rich values; times are compared with Equal (each
// codec keeps the instant but not always the location), the rest exactly.
func requireSame(t *testing.T, want, got Rich) {
	t.Helper()
	require.True(t, want.When.Equal(got.When), "When: want %v, got %v", want.When, got.When)
	require.True(t, got.Zero.IsZero(), "Zero: got %v", got.Zero)
	if want.PWhen == nil {
		require.Nil(t, got.PWhen)
	} else {
		require.NotNil(t, got.PWhen)
		require.True(t, want.PWhen.Equal(*got.PWhen), "PWhen: want %v, got %v", *want.PWhen, *got.PWhen)
	}
	want.When, got.When, want.Zero, got.Zero, want.PWhen, got.PWhen = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil, nil
	require.Equal(t, want, got)
}

func TestBuiltinsAreModules(t *testing.T) {
	for _, name := range []string{"msgpack", "cbor", "json", "raw"} {
		c, err := codec.Lookup(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, c.Name())
		info, err := module.Lookup(module.ID("codec." + name))
		require.NoError(t, err)
		m, ok := info.New().(codec.Codec)
		require.True(t, ok, "module codec.%s implements codec.Codec", name)
		assert.Equal(t, name, m.Name())
	}
	assert.Subset(t, codec.Names(), []string{"cbor", "json", "msgpack", "raw"})
	assert.Equal(t, codec.Msgpack, must(codec.Lookup("msgpack")))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLookupUnknownListsKnown(t *testing.T) {
	for _, name := range []string{"nosuchcodec", "application/json", "", "Msgpack"} {
		_, err := codec.Lookup(name)
		require.Error(t, err, name)
		assert.ErrorIs(t, err, module.ErrNotFound)
		for _, known := range []string{"cbor", "json", "msgpack", "raw"} {
			assert.Contains(t, err.Error(), known)
		}
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", name))
	}
}

// notACodec is registered in the codec namespace but is no Codec.
type notACodec struct{}

func (notACodec) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "codec.notacodec", New: func() module.Module { return notACodec{} }}
}

// misnamed is a codec whose Name differs from its module name.
type misnamed struct{ codec.Codec }

func (misnamed) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "codec.misnamed", New: func() module.Module { return misnamed{codec.JSON} }}
}

func init() {
	module.Register(notACodec{})
	module.Register(misnamed{})
}

func TestLookupRejectsBadModules(t *testing.T) {
	_, err := codec.Lookup("notacodec")
	require.ErrorContains(t, err, "does not implement codec.Codec")
	_, err = codec.Lookup("misnamed")
	require.ErrorContains(t, err, `names itself "json"`)
}

func TestRoundTrip(t *testing.T) {
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			want := sample()
			b, err := c.Append(nil, &want)
			require.NoError(t, err)
			var got Rich
			require.NoError(t, c.Unmarshal(b, &got))
			requireSame(t, want, got)

			// By value too, and appending after existing bytes.
			prefix := []byte("prefix")
			b2, err := c.Append(prefix, want)
			require.NoError(t, err)
			require.Equal(t, "prefix", string(b2[:6]))
			var got2 Rich
			require.NoError(t, c.Unmarshal(b2[6:], &got2))
			requireSame(t, want, got2)

			// The zero value.
			var zero, gotZero Rich
			b, err = c.Append(nil, &zero)
			require.NoError(t, err)
			require.NoError(t, c.Unmarshal(b, &gotZero))
			requireSame(t, zero, gotZero)
		})
	}
}

func TestRoundTripLarge(t *testing.T) {
	big := strings.Repeat("é世🚀x", 1<<20/10)
	list := make([]Inner, 10000)
	for i := range list {
		list[i] = Inner{Name: fmt.Sprint("n", i), Tags: []string{"t"}, Attrs: map[string]int64{"i": int64(i)}}
	}
	blob := bytes.Repeat([]byte{0, 1, 2, 0xfe}, 1<<18)
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			want := Rich{Text: big, List: list, Inner: Inner{Blob: blob}}
			b, err := c.Append(nil, &want)
			require.NoError(t, err)
			var got Rich
			require.NoError(t, c.Unmarshal(b, &got))
			require.Len(t, got.Text, len(big))
			require.Equal(t, big, got.Text)
			require.Equal(t, list, got.List)
			require.Equal(t, blob, got.Inner.Blob)
		})
	}
}

// TestTimes pins what each codec guarantees for time.Time: the instant to
// the nanosecond always; the UTC offset with cbor and json; msgpack gives
// the time in time.Local.
func TestTimes(t *testing.T) {
	in := []time.Time{
		when,
		time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Now(), // with a monotonic reading, which no codec carries
	}
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			for _, tm := range in {
				b, err := c.Append(nil, &tm)
				require.NoError(t, err)
				var got time.Time
				require.NoError(t, c.Unmarshal(b, &got))
				require.True(t, tm.Equal(got), "want %v, got %v", tm, got)
				require.Equal(t, tm.Nanosecond(), got.Nanosecond())
				_, wantOff := tm.Zone()
				_, gotOff := got.Zone()
				switch c.Name() {
				case "msgpack":
					require.Equal(t, time.Local, got.Location())
				default:
					require.Equal(t, wantOff, gotOff, "UTC offset kept")
				}
			}
			var zero time.Time
			b, err := c.Append(nil, &zero)
			require.NoError(t, err)
			var got time.Time
			require.NoError(t, c.Unmarshal(b, &got))
			require.True(t, got.IsZero(), "zero time round-trips, got %v", got)
		})
	}
}

// TestInterfaces pins what each codec produces when decoding into any.
func TestInterfaces(t *testing.T) {
	in := map[string]any{"n": 1, "neg": -2, "f": 1.5, "s": "x", "l": []any{true, nil}}
	want := map[string]map[string]any{
		"msgpack": {"n": int64(1), "neg": int64(-2), "f": 1.5, "s": "x", "l": []any{true, nil}},
		"json":    {"n": 1.0, "neg": -2.0, "f": 1.5, "s": "x", "l": []any{true, nil}},
	}
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			b, err := c.Append(nil, in)
			require.NoError(t, err)
			var got any
			require.NoError(t, c.Unmarshal(b, &got))
			switch c.Name() {
			case "cbor": // maps decode as map[any]any, unsigned as uint64
				require.Equal(t, map[any]any{"n": uint64(1), "neg": int64(-2), "f": 1.5, "s": "x", "l": []any{true, nil}}, got)
			default:
				require.Equal(t, want[c.Name()], got)
			}
		})
	}
}

func TestJSONTagsNameFieldsInEveryCodec(t *testing.T) {
	type tagged struct {
		Field int `json:"renamed"`
	}
	for _, c := range structured {
		b, err := c.Append(nil, tagged{Field: 5})
		require.NoError(t, err)
		var m map[string]int
		require.NoError(t, c.Unmarshal(b, &m), c.Name())
		require.Equal(t, map[string]int{"renamed": 5}, m, c.Name())
	}
}

// TestDecodedValuesDoNotAliasInput: the typed layer reuses its buffers as
// soon as Unmarshal returns, so nothing decoded may point into them.
func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			want := sample()
			b, err := c.Append(nil, &want)
			require.NoError(t, err)
			var got Rich
			require.NoError(t, c.Unmarshal(b, &got))
			for i := range b {
				b[i] = 0xAA
			}
			requireSame(t, want, got)
		})
	}
	t.Run("raw", func(t *testing.T) {
		in := []byte("payload")
		var got []byte
		require.NoError(t, codec.Raw.Unmarshal(in, &got))
		in[0] = 'X'
		require.Equal(t, "payload", string(got))
	})
}

func TestRaw(t *testing.T) {
	b, err := codec.Raw.Append([]byte("a"), []byte("bc"))
	require.NoError(t, err)
	require.Equal(t, "abc", string(b))
	p := []byte("de")
	b, err = codec.Raw.Append(b, &p)
	require.NoError(t, err)
	require.Equal(t, "abcde", string(b))
	b, err = codec.Raw.Append(b, (*[]byte)(nil))
	require.NoError(t, err)
	require.Equal(t, "abcde", string(b))

	for _, v := range []any{"string", 42, Rich{}, nil, &struct{}{}} {
		out, err := codec.Raw.Append([]byte("keep"), v)
		require.Error(t, err, "%T", v)
		require.Contains(t, err.Error(), "[]byte")
		require.Contains(t, err.Error(), fmt.Sprintf("%T", v))
		require.Equal(t, "keep", string(out))
	}

	var got []byte
	require.NoError(t, codec.Raw.Unmarshal([]byte("xyz"), &got))
	require.Equal(t, "xyz", string(got))
	reuse := make([]byte, 0, 16)
	require.NoError(t, codec.Raw.Unmarshal([]byte("12"), &reuse))
	require.Equal(t, "12", string(reuse))
	for _, v := range []any{got, new(string), (*[]byte)(nil), nil} {
		err := codec.Raw.Unmarshal([]byte("x"), v)
		require.Error(t, err, "%T", v)
		require.Contains(t, err.Error(), "*[]byte")
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range structured {
		out, err := c.Append([]byte("keep"), map[string]any{"ch": make(chan int)})
		require.Error(t, err, c.Name())
		require.Contains(t, err.Error(), c.Name())
		require.Equal(t, "keep", string(out))
	}
}

// TestConcurrentUse exercises the pooled encoders and decoders from many
// goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for _, c := range structured {
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := sample()
				var buf []byte
				for i := 0; i < 200; i++ {
					want.ID = int64(g*1000 + i)
					var err error
					buf, err = c.Append(buf[:0], &want)
					if !assert.NoError(t, err) {
						return
					}
					var got Rich
					if !assert.NoError(t, c.Unmarshal(buf, &got)) || !assert.Equal(t, want.ID, got.ID) {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestScanAllocatesNothing(t *testing.T) {
	valid, err := codec.Msgpack.Append(nil, sample())
	require.NoError(t, err)
	require.NoError(t, codec.ScanMsgpack(valid))
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = codec.ScanMsgpack(valid) }))
}
