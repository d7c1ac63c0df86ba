package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
)

// Wide is the costliest struct element of the hostile shapes: 30 int64
// fields, 240 bytes of Go value, decoded from a one-byte empty map.
type Wide struct {
	F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 int64
	F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 int64
	F20, F21, F22, F23, F24, F25, F26, F27, F28, F29 int64
}

// holder reaches a hostile slice through a struct field, so the scan must
// follow field names to the field's type.
type holder struct {
	ID    int64  `json:"id"`
	Items []Wide `json:"items"`
	Note  string `json:"note"`
}

// allocBound is what decoding n bytes may allocate: codec.AllocBound,
// measured with a little slack for the runtime's own bookkeeping.
func allocBound(n int) uint64 {
	return codec.AllocBound(n) + 16<<10
}

// wire builds payloads by hand in one of the two binary formats, so that
// shapes no encoder would produce (a million copies of one map key) can be
// sent.
type wire string

func (w wire) head(major byte, n int) []byte {
	var b [9]byte
	if w == "msgpack" {
		switch major {
		case 'a': // array32
			b[0] = 0xdd
		case 'm': // map32
			b[0] = 0xdf
		}
		binary.BigEndian.PutUint32(b[1:], uint32(n))
		return b[:5]
	}
	switch major {
	case 'a':
		b[0] = 0x9a
	case 'm':
		b[0] = 0xba
	}
	binary.BigEndian.PutUint32(b[1:], uint32(n))
	return b[:5]
}

func (w wire) array(n int) []byte { return w.head('a', n) }
func (w wire) mapOf(n int) []byte { return w.head('m', n) }

// small items, one or two bytes each.
func (w wire) emptyMap() []byte   { return w.pick(0x80, 0xa0) }
func (w wire) emptyArray() []byte { return w.pick(0x90, 0x80) }
func (w wire) emptyText() []byte  { return w.pick(0xa0, 0x60) }
func (w wire) emptyBytes() []byte {
	if w == "msgpack" {
		return []byte{0xc4, 0x00}
	}
	return []byte{0x40}
}
func (w wire) text(s string) []byte {
	if len(s) > 23 {
		panic("short text only")
	}
	return append(w.pick(0xa0|byte(len(s)), 0x60|byte(len(s))), s...)
}
func (w wire) small(i byte) []byte { return []byte{i} } // 0..23 in both
func (w wire) arrayOf(items ...[]byte) []byte {
	b := w.pick(0x90|byte(len(items)), 0x80|byte(len(items)))
	return append(b, bytes.Join(items, nil)...)
}

func (w wire) pick(msgpack, cbor byte) []byte {
	if w == "msgpack" {
		return []byte{msgpack}
	}
	return []byte{cbor}
}

// repeated is a container head for n items followed by n copies of item,
// n chosen so that the payload is about size bytes.
func (w wire) repeated(size int, head func(int) []byte, item []byte) []byte {
	n := (size - 5) / len(item)
	b := make([]byte, 0, 5+n*len(item))
	b = append(b, head(n)...)
	for range n {
		b = append(b, item...)
	}
	return b
}

// ampShape is a well-formed payload within every element and depth limit
// whose naive decoding costs far more than its size.
type ampShape struct {
	name string
	data []byte
	dst  func() any
}

func newOf[T any]() func() any { return func() any { return new(T) } }

// amplifyShapes are the hostile shapes, about size bytes each, in c's
// format.
func amplifyShapes(c codec.Codec, size int) []ampShape {
	w := wire(c.Name())
	key := func(s string) []byte { return w.text(s) }
	fieldKey := "items"
	if c.Name() == "cbor" {
		fieldKey = "ITEMS" // cbor matches field names case-insensitively too
	}
	itemsField := func() []byte {
		// {"id": 1, "ITEMS": [ {} x n ]}
		b := append(w.pick(0x82, 0xa2), key("id")...)
		b = append(b, w.small(1)...)
		b = append(b, key(fieldKey)...)
		return append(b, w.repeated(size-16, w.array, w.emptyMap())...)
	}
	return []ampShape{
		{"[]struct{} of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[[]struct{}]()},
		{"[]Wide of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[[]Wide]()},
		{"[]Wide of empty arrays", w.repeated(size, w.array, w.emptyArray()), newOf[[]Wide]()},
		{"[]*Wide of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[[]*Wide]()},
		{"[]map[string]int64 of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[[]map[string]int64]()},
		{"[][]int64 of empty arrays", w.repeated(size, w.array, w.emptyArray()), newOf[[][]int64]()},
		{"[][]Wide of one empty map each", w.repeated(size, w.array, w.arrayOf(w.emptyMap())), newOf[[][]Wide]()},
		{"[][4]int64 of empty arrays", w.repeated(size, w.array, w.emptyArray()), newOf[[][4]int64]()},
		{"[]*int64 of small ints", w.repeated(size, w.array, w.small(7)), newOf[[]*int64]()},
		{"[]string of empty strings", w.repeated(size, w.array, w.emptyText()), newOf[[]string]()},
		{"[]string of one-byte strings", w.repeated(size, w.array, w.text("a")), newOf[[]string]()},
		{"[][]byte of empty byte strings", w.repeated(size, w.array, w.emptyBytes()), newOf[[][]byte]()},
		{"[]any of empty arrays", w.repeated(size, w.array, w.emptyArray()), newOf[[]any]()},
		{"[]any of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[[]any]()},
		{"any: array of empty maps", w.repeated(size, w.array, w.emptyMap()), newOf[any]()},
		{"any: array of arrays of empty maps", w.repeated(size, w.array, w.arrayOf(w.emptyMap(), w.emptyMap())), newOf[any]()},
		{"map[string]any: one key repeated, empty-map values", w.repeated(size, w.mapOf, append(key(""), w.emptyMap()...)), newOf[map[string]any]()},
		{"map[int64]Wide: one key repeated", w.repeated(size, w.mapOf, append(w.small(0), w.emptyMap()...)), newOf[map[int64]Wide]()},
		{"map[string][]int64: one key repeated", w.repeated(size, w.mapOf, append(key("k"), w.emptyArray()...)), newOf[map[string][]int64]()},
		{"struct field []Wide by name", itemsField(), newOf[holder]()},
	}
}

// TestDecodeAllocBound decodes each hostile shape of 1 MiB into its target
// and requires the allocation to stay within the codec's bound, whether the
// payload is refused or not. Before the bound, []Wide of empty maps alone
// cost 480 MiB with msgpack and 240 MiB with cbor.
func TestDecodeAllocBound(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 40 MiB of hostile payloads")
	}
	size := 1 << 20
	if raceEnabled {
		size = 128 << 10 // the bound is linear; the race detector is slow
	}
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		t.Run(c.Name(), func(t *testing.T) {
			// Warm the type caches (the libraries' and the codec's) on
			// small copies, so that only the decoding is measured.
			for _, s := range amplifyShapes(c, 64) {
				_ = c.Unmarshal(s.data, s.dst())
			}
			for _, s := range amplifyShapes(c, size) {
				var err error
				n := allocated(func() { err = c.Unmarshal(s.data, s.dst()) })
				t.Logf("%-52s %8d bytes: allocated %10d (%.1f per byte) err=%v", s.name, len(s.data), n, float64(n)/float64(len(s.data)), err != nil)
				assert.LessOrEqual(t, n, allocBound(len(s.data)), "%s: %s: allocated %d bytes for %d bytes received", c.Name(), s.name, n, len(s.data))
				if errors.Is(err, codec.ErrTooCostly) {
					requireAmplifyError(t, err)
				} else {
					estimate, werr := codec.Estimate(c, s.data, s.dst())
					require.NoError(t, werr)
					assert.LessOrEqual(t, n, estimate+16<<10, "%s: %s: allocated %d, estimated %d", c.Name(), s.name, n, estimate)
				}
			}
		})
	}
}

// requireAmplifyError checks a refusal reads as one sentence that says
// what happened and what to do.
func requireAmplifyError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "fastrpc: "), "%q", msg)
	require.Equal(t, 1, strings.Count(msg, "fastrpc: "), "%q", msg)
	require.Contains(t, msg, "would allocate about")
	require.Contains(t, msg, "bytes received")
	require.Contains(t, msg, "refused")
	require.ErrorIs(t, err, codec.ErrTooCostly)
}

// TestDecodeAllocBoundRefuses: the worst shapes are refused, with an error
// naming the limit, what decoding would allocate and what arrived, and
// nothing of the target is allocated.
func TestDecodeAllocBoundRefuses(t *testing.T) {
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		w := wire(c.Name())
		data := w.repeated(64<<10, w.array, w.emptyMap())
		var dst []Wide
		err := c.Unmarshal(data, &dst)
		require.Error(t, err, c.Name())
		requireAmplifyError(t, err)
		require.Nil(t, dst, "nothing is decoded from a refused payload")
		require.Contains(t, err.Error(), fmt.Sprintf("for %d bytes received", len(data)))
		t.Log(err)
	}
}

// honestType is a realistic struct of the kind typed handlers receive.
type honestType struct {
	ID      int64             `json:"id"`
	Name    string            `json:"name"`
	Email   string            `json:"email"`
	Score   float64           `json:"score"`
	Active  bool              `json:"active"`
	Tags    []string          `json:"tags"`
	Attrs   map[string]string `json:"attrs"`
	Parent  *Inner            `json:"parent"`
	History []int64           `json:"history"`
}

// TestDecodeAllocBoundAcceptsHonestData: large payloads of ordinary shapes
// decode, and cost no more than the bound either.
func TestDecodeAllocBoundAcceptsHonestData(t *testing.T) {
	scale := 1
	if raceEnabled {
		scale = 8 // smaller payloads: the race detector is slow
	}
	structs := make([]honestType, 10000/scale)
	for i := range structs {
		structs[i] = honestType{
			ID: int64(i) * 7919, Name: fmt.Sprintf("user-%05d", i), Email: fmt.Sprintf("u%d@example.com", i),
			Score: float64(i) / 7, Active: i%3 == 0, Tags: []string{"a", "bb"}, Attrs: map[string]string{"k": "v"},
			History: []int64{1, 2, 3, int64(i)},
		}
		if i%2 == 0 {
			structs[i].Parent = &Inner{Name: "p", Tags: []string{"x"}}
		}
	}
	smallInts := make([]int64, 200000/scale)
	for i := range smallInts {
		smallInts[i] = int64(i % 100)
	}
	blob := bytes.Repeat([]byte{0xab}, 1<<20/scale)
	strs := make([]string, 50000/scale)
	for i := range strs {
		strs[i] = fmt.Sprint(i)
	}
	doc := make(map[string]any, 2000)
	for i := range 2000 {
		doc[fmt.Sprintf("key-%04d", i)] = map[string]any{"n": i, "s": "text", "l": []any{1, "two", 3.5, true, nil}}
	}
	bools := make([]bool, 500000/scale)
	cases := []struct {
		name string
		v    any
		dst  func() any
	}{
		{fmt.Sprint(len(structs), " structs"), structs, newOf[[]honestType]()},
		{fmt.Sprint(len(blob), "-byte []byte"), blob, newOf[[]byte]()},
		{fmt.Sprint(len(smallInts), " small int64s"), smallInts, newOf[[]int64]()},
		{fmt.Sprint(len(smallInts), " small ints as []any"), smallInts, newOf[[]any]()},
		{fmt.Sprint(len(strs), " short strings"), strs, newOf[[]string]()},
		{"document of 2000 maps as any", doc, newOf[any]()},
		{"document of 2000 maps as map[string]any", doc, newOf[map[string]any]()},
		{fmt.Sprint(len(bools), " bools"), bools, newOf[[]bool]()},
		{fmt.Sprint(8<<20/scale, "-byte string"), strings.Repeat("x", 8<<20/scale), newOf[string]()},
	}
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		for _, tc := range cases {
			data, err := c.Append(nil, tc.v)
			require.NoError(t, err)
			require.NoError(t, c.Unmarshal(data, tc.dst()), "%s: %s", c.Name(), tc.name) // warm
			var derr error
			n := allocated(func() { derr = c.Unmarshal(data, tc.dst()) })
			require.NoError(t, derr, "%s: %s (%d bytes) refused", c.Name(), tc.name, len(data))
			estimate, _ := codec.Estimate(c, data, tc.dst())
			t.Logf("%s: %-40s %8d bytes: allocated %10d (%.1f per byte), estimated %.1f per byte", c.Name(), tc.name, len(data), n,
				float64(n)/float64(len(data)), float64(estimate)/float64(len(data)))
			assert.LessOrEqual(t, n, allocBound(len(data)), "%s: %s", c.Name(), tc.name)
		}
	}
}

// allocatedNoGC returns the bytes f allocates, without collecting first:
// cheap enough to run on every fuzz input.
func allocatedNoGC(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Shapes for TestEstimateCoversDecoding: embedded structs, pointers on the
// way to promoted fields, integer keys, aliases, nested maps.
type (
	Base struct {
		Kind  string   `json:"kind"`
		Seq   []uint16 `json:"seq"`
		Extra *Inner   `json:"extra"`
	}
	withEmbedded struct {
		*Base
		Inner `json:"inner"`
		Own   map[string][]int8 `json:"own"`
		Times []time.Time       `json:"times"`
	}
	keyedByInt struct {
		A []float32           `cbor:"1,keyasint" json:"a"`
		B map[int64]string    `cbor:"2,keyasint" json:"b"`
		C [3]*Inner           `cbor:"3,keyasint" json:"c"`
		D map[string]any      `cbor:"4,keyasint" json:"d"`
		E [][]byte            `cbor:"5,keyasint" json:"e"`
		F map[string]struct{} `cbor:"6,keyasint" json:"f"`
	}
)

// randomValue fills a value of type t with random contents, small enough
// to keep the test quick.
func randomValue(r *rand.Rand, t reflect.Type, depth int) reflect.Value {
	v := reflect.New(t).Elem()
	if t == reflect.TypeFor[time.Time]() {
		loc := time.FixedZone("", (r.IntN(24)-12)*3600)
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(1<<33), r.Int64N(1e9)).In(loc)))
		return v
	}
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64N(200) - 100)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64N(250))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.Float64() * 1000)
	case reflect.String:
		v.SetString(strings.Repeat("x", r.IntN(40)))
	case reflect.Slice:
		if depth > 3 || r.IntN(8) == 0 {
			return v
		}
		n := r.IntN(30)
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			s.Index(i).Set(randomValue(r, t.Elem(), depth+1))
		}
		v.Set(s)
	case reflect.Array:
		for i := range t.Len() {
			v.Index(i).Set(randomValue(r, t.Elem(), depth+1))
		}
	case reflect.Map:
		if depth > 3 || r.IntN(8) == 0 {
			return v
		}
		m := reflect.MakeMap(t)
		for range r.IntN(20) {
			m.SetMapIndex(randomValue(r, t.Key(), depth+1), randomValue(r, t.Elem(), depth+1))
		}
		v.Set(m)
	case reflect.Pointer:
		if depth > 3 || r.IntN(3) == 0 {
			return v
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(randomValue(r, t.Elem(), depth+1))
		v.Set(p)
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(randomValue(r, t.Field(i).Type, depth+1))
			}
		}
	case reflect.Interface:
		switch r.IntN(7) {
		case 0:
			v.Set(reflect.ValueOf(r.Int64N(1000) - 500))
		case 1:
			v.Set(reflect.ValueOf(strings.Repeat("y", r.IntN(20))))
		case 2:
			v.Set(reflect.ValueOf(r.Float64()))
		case 3:
			if depth < 3 {
				v.Set(randomValue(r, reflect.TypeFor[[]any](), depth+1))
			}
		case 4:
			if depth < 3 {
				v.Set(randomValue(r, reflect.TypeFor[map[string]any](), depth+1))
			}
		case 5:
			v.Set(reflect.ValueOf(r.IntN(2) == 0))
		}
	}
	return v
}

// TestEstimateCoversDecoding: for random values of many shapes, decoded
// into their own type and into any, what decoding allocates stays within
// the weigher's estimate (the figure the bound is enforced on), and
// ordinary values are never refused.
func TestEstimateCoversDecoding(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[Rich](), reflect.TypeFor[honestType](), reflect.TypeFor[[]Wide](), reflect.TypeFor[map[string]Inner](),
		reflect.TypeFor[[][]string](), reflect.TypeFor[map[int64][]byte](), reflect.TypeFor[withEmbedded](),
		reflect.TypeFor[keyedByInt](), reflect.TypeFor[[]any](), reflect.TypeFor[map[string]any](), reflect.TypeFor[*[]*int](),
		reflect.TypeFor[[3]string](), reflect.TypeFor[[]time.Time](), reflect.TypeFor[[]float32](), reflect.TypeFor[[]int8](),
		reflect.TypeFor[map[string]map[string]string](), reflect.TypeFor[[]map[string]any](), reflect.TypeFor[[]*Wide](),
	}
	r := rand.New(rand.NewPCG(1, 2))
	values := 40
	if raceEnabled {
		values = 8 // the race detector is slow, and the measurements are skipped
	}
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		for _, typ := range types {
			for range values {
				v := randomValue(r, typ, 0)
				data, err := c.Append(nil, v.Interface())
				require.NoError(t, err)
				for _, dst := range []reflect.Type{typ, reflect.TypeFor[any]()} {
					p := reflect.New(dst).Interface()
					_ = c.Unmarshal(data, p) // warm the caches
					estimate, err := codec.Estimate(c, data, p)
					require.NoError(t, err)
					require.LessOrEqual(t, estimate, codec.AllocBound(len(data)), "%s: %v (%d bytes) into %v refused", c.Name(), typ, len(data), dst)
					// Fresh destinations, allocated outside the measurement.
					var fresh [4]any
					for i := range fresh {
						fresh[i] = reflect.New(dst).Interface()
					}
					runs := 0
					n := allocatedMin(func() { err = c.Unmarshal(data, fresh[runs]); runs++ })
					slack := uint64(64)
					if dst == typ {
						require.NoError(t, err, "%s: %v into %v", c.Name(), typ, dst)
					} else if err != nil {
						// Into any, msgpack refuses maps with integer
						// keys; the error's text is the fixed overhead.
						slack += 1 << 10
					}
					if raceEnabled {
						continue // the race detector's own allocations
					}
					require.LessOrEqual(t, n, estimate+slack, "%s: %v (%d bytes) into %v: allocated %d, estimated %d", c.Name(), typ, len(data), dst, n, estimate)
				}
			}
		}
	}
}

// allocatedMin is the least that f allocates over three runs, after one
// that fills the pools (a collection would empty them): the runtime's own
// allocations around a measurement only ever add to it.
func allocatedMin(f func()) uint64 {
	f()
	least := uint64(math.MaxUint64)
	for range 3 {
		least = min(least, allocatedNoGC(f))
	}
	return least
}

// TestWeighAllocatesNothing: the walk that weighs a payload allocates
// nothing, whatever it reads.
func TestWeighAllocatesNothing(t *testing.T) {
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		honest, err := c.Append(nil, sample())
		require.NoError(t, err)
		payloads := [][]byte{honest}
		for _, s := range amplifyShapes(c, 1<<10) {
			payloads = append(payloads, s.data)
		}
		for _, data := range payloads {
			for _, dst := range []any{new(Rich), new(any), new([]Wide), new(holder)} {
				_, _ = codec.Estimate(c, data, dst) // builds the type's info
				n := testing.AllocsPerRun(20, func() { _, _ = codec.Estimate(c, data, dst) })
				require.Zero(t, n, "%s: weighing %d bytes into %T", c.Name(), len(data), dst)
			}
		}
	}
}
