package codec_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/AmanTrance/FastRpc/codec"
)

// allocBudget is the most a hostile payload of a few bytes may cost.
const allocBudget = 4 << 20

// destinations are what hostile payloads are decoded into.
func destinations() []any {
	return []any{
		new(Rich), new([]Inner), new([]int64), new([][]byte), new(map[string]Inner),
		new(map[string]any), new(any), new([]byte), new(string), new(time.Time), new([4]int),
	}
}

// requireRejected decodes data into every destination and requires an
// error, no panic, and allocations within allocBudget.
func requireRejected(t *testing.T, c codec.Codec, name string, data []byte) {
	t.Helper()
	for _, dst := range destinations() {
		var err error
		n := allocated(func() { err = c.Unmarshal(data, dst) })
		require.Error(t, err, "%s: %s into %T was accepted", c.Name(), name, dst)
		require.LessOrEqual(t, n, uint64(allocBudget), "%s: %s into %T allocated %d bytes", c.Name(), name, dst, n)
	}
}

func hugeLengths(name string) map[string][]byte {
	switch name {
	case "msgpack":
		return map[string][]byte{
			"array32 of 2^31-1":      {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05},
			"array32 of 2^22-1":      {0xdd, 0x00, 0x3f, 0xff, 0xff, 0x01, 0x02, 0x03},
			"array32 of 2^32-1":      {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
			"array16 of 65535":       {0xdc, 0xff, 0xff, 0xc0, 0xc0},
			"map32 of 2^31-1":        {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01},
			"map16 of 65535":         {0xde, 0xff, 0xff, 0xa1, 'a', 0x01},
			"bin32 of 4 GiB":         {0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3},
			"str32 of 4 GiB":         {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'},
			"ext32 of 4 GiB":         {0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2},
			"nested array32 in map":  {0x81, 0xa1, 'l', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x90},
			"array of array32 heads": bytes.Repeat([]byte{0xdd, 0x00, 0x0f, 0xff, 0xff}, 4),
		}
	case "cbor":
		return map[string][]byte{
			"array of 2^63-1":           {0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
			"array of 2^31-1":           {0x9a, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02},
			"array of 2^22-1":           {0x9a, 0x00, 0x3f, 0xff, 0xff, 0x01, 0x02},
			"map of 2^31-1":             {0xba, 0x7f, 0xff, 0xff, 0xff, 0x61, 'a', 0x01},
			"bytes of 2^63-1":           {0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2},
			"text of 4 GiB":             {0x7a, 0xff, 0xff, 0xff, 0xff, 'a'},
			"indefinite bytes of huge":  {0x5f, 0x5a, 0xff, 0xff, 0xff, 0xff, 1, 0xff},
			"tag around a huge array":   {0xc1, 0x9a, 0x7f, 0xff, 0xff, 0xff, 0x01},
			"nested huge array in map":  {0xa1, 0x61, 'l', 0x9a, 0x7f, 0xff, 0xff, 0xff, 0x80},
			"bignum of 2^32 bytes":      {0xc2, 0x5a, 0xff, 0xff, 0xff, 0xff, 0x01},
			"indefinite array unclosed": append([]byte{0x9f}, bytes.Repeat([]byte{0xf6}, 16)...),
		}
	default: // json declares no lengths; these are its expensive shapes
		return map[string][]byte{
			"unterminated string":   []byte(`"` + strings.Repeat("a", 100)),
			"huge exponent":         []byte(`1e99999999999`),
			"unterminated array":    []byte(`[1,2,3`),
			"long number":           []byte(strings.Repeat("9", 1000)),
			"unterminated object":   []byte(`{"a":`),
			"array of unterminated": []byte(`[` + strings.Repeat(`{"a":[`, 50)),
		}
	}
}

func TestHostileHugeDeclaredLengths(t *testing.T) {
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			for name, data := range hugeLengths(c.Name()) {
				requireRejected(t, c, name, data)
			}
		})
	}
}

// TestMsgpackLibraryNeedsTheGuard shows why the msgpack codec scans its
// input first: msgpack/v5.4.1 alone sizes a slice from the declared length.
// If this test starts failing after an upgrade, the library has learnt to
// bound its allocations and the scan may be worth revisiting.
func TestMsgpackLibraryNeedsTheGuard(t *testing.T) {
	data := []byte{0xdd, 0x00, 0x10, 0x00, 0x00, 0xc0} // array of 2^20 elements, 1 present
	var dst []Inner
	n := allocated(func() { _ = msgpack.Unmarshal(data, &dst) })
	require.Greater(t, n, uint64(32<<20), "msgpack.Unmarshal allocated only %d bytes for a 6-byte payload", n)
	n = allocated(func() { _ = codec.Msgpack.Unmarshal(data, &dst) })
	require.Less(t, n, uint64(64<<10), "codec.Msgpack.Unmarshal allocated %d bytes", n)
}

// TestMsgpackLibraryPanicIsAnError: msgpack/v5.4.1 panics on nil for a
// time.Time field, in a map or an array ({"a": 1, "t": nil}); the codec
// turns that into an error, as its contract says, so a hostile request
// cannot make a typed handler panic, nor a hostile response a caller.
// Found by FuzzMsgpackHandler. If the library part starts failing after an
// upgrade, the library fixed it.
func TestMsgpackLibraryPanicIsAnError(t *testing.T) {
	type withTime struct {
		A int       `json:"a" msgpack:"a"`
		T time.Time `json:"t" msgpack:"t"`
	}
	for _, data := range []string{"\x82\xa1a\x01\xa1t\xc0", "\x92\x01\xc0"} {
		require.Panics(t, func() {
			var v withTime
			_ = msgpack.Unmarshal([]byte(data), &v)
		}, "the library alone, on %x", data)
		var v withTime
		err := codec.Msgpack.Unmarshal([]byte(data), &v)
		require.Error(t, err, "%x", data)
		require.Contains(t, err.Error(), "panicked")
		// The codec still works afterwards (the panicked decoder was not
		// pooled).
		var ok withTime
		b, err := codec.Msgpack.Append(nil, withTime{A: 2})
		require.NoError(t, err)
		require.NoError(t, codec.Msgpack.Unmarshal(b, &ok))
		require.Equal(t, 2, ok.A)
	}
}

func nested(c codec.Codec, depth int) []byte {
	switch c.Name() {
	case "msgpack":
		return append(bytes.Repeat([]byte{0x91}, depth), 0xc0)
	case "cbor":
		return append(bytes.Repeat([]byte{0x81}, depth), 0xf6)
	}
	return []byte(strings.Repeat("[", depth) + "null" + strings.Repeat("]", depth))
}

func TestHostileDeepNesting(t *testing.T) {
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			for _, depth := range []int{100001, 20000} {
				requireRejected(t, c, fmt.Sprint(depth, " nested arrays"), nested(c, depth))
				// Unterminated: just the openings.
				b := nested(c, depth)
				requireRejected(t, c, fmt.Sprint(depth, " unterminated arrays"), b[:depth])
			}
			// Nesting within the limit decodes.
			var v any
			require.NoError(t, c.Unmarshal(nested(c, codec.MaxDepth-1), &v))
			if c.Name() != "json" {
				require.Error(t, c.Unmarshal(nested(c, codec.MaxDepth+1), &v))
			}
		})
	}
	// Deeply nested maps too.
	deepMap := append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 100000), 0xc0)
	requireRejected(t, codec.Msgpack, "nested maps", deepMap)
	deepMap = append(bytes.Repeat([]byte{0xa1, 0x61, 'k'}, 100000), 0xf6)
	requireRejected(t, codec.CBOR, "nested maps", deepMap)
	requireRejected(t, codec.JSON, "nested objects", []byte(strings.Repeat(`{"k":`, 100000)+"null"+strings.Repeat("}", 100000)))
}

func TestHostileTruncated(t *testing.T) {
	for _, c := range structured {
		t.Run(c.Name(), func(t *testing.T) {
			full, err := c.Append(nil, sample())
			require.NoError(t, err)
			for n := 0; n < len(full); n++ {
				var got Rich
				require.Error(t, c.Unmarshal(full[:n], &got), "prefix of %d of %d bytes accepted", n, len(full))
			}
			var got Rich
			require.Error(t, c.Unmarshal(append(full[:len(full):len(full)], 0x00), &got), "trailing byte accepted")
		})
	}
}

func TestHostileWrongCodec(t *testing.T) {
	for _, enc := range structured {
		full, err := enc.Append(nil, sample())
		require.NoError(t, err)
		for _, dec := range append(structured, codec.Raw) {
			if dec == enc {
				continue
			}
			var got Rich
			require.Error(t, dec.Unmarshal(full, &got), "%s bytes decoded by %s", enc.Name(), dec.Name())
		}
	}
}

// TestHostileGarbage feeds short garbage to every codec and destination.
// Unmarshal must never panic nor overspend; each input either is a valid
// encoding of something the destination can hold, and then decodes to
// exactly that, or it is refused with an error in the codec's documented
// form: one sentence starting "fastrpc: <codec>: decoding into <type>: ",
// with the prefix once (internal/errtext). The valid combinations are listed in accepted; every
// other one must fail.
func TestHostileGarbage(t *testing.T) {
	inputs := [][]byte{
		nil, {}, {0xc1}, {0xff}, {0x00, 0x00}, []byte("\xff\xfe\xfd"), bytes.Repeat([]byte{0xdd}, 64),
		bytes.Repeat([]byte{0x9f}, 1000), bytes.Repeat([]byte{0xbf}, 1000),
		[]byte(`{"id": "not a number"}`), []byte(`{"text": 5}`),
	}
	// accepted maps "codec input-index destination-type" to the value the
	// destination must hold afterwards. Why each is valid:
	//   - 0xff is msgpack's negative fixint -1, which only an interface
	//     takes (integers decode into interfaces as int64);
	//   - the two JSON objects are well-formed JSON, which a map or an
	//     interface takes whatever the field types (numbers as float64).
	//     Into Rich they fail: "id" is not a number, "text" not a string.
	// Everything else is malformed for its codec (empty, a reserved code,
	// trailing bytes, declared lengths the input cannot hold, unterminated
	// indefinite items, invalid UTF-8, bytes that are not JSON) or the wrong
	// type for the destination.
	idObj := map[string]any{"id": "not a number"}
	textObj := map[string]any{"text": float64(5)}
	accepted := map[string]any{
		"msgpack 3 *interface {}":          int64(-1),
		"json 9 *map[string]interface {}":  idObj,
		"json 9 *interface {}":             idObj,
		"json 10 *map[string]interface {}": textObj,
		"json 10 *interface {}":            textObj,
	}
	seen := map[string]bool{}
	for _, c := range structured {
		for i, in := range inputs {
			for _, dst := range destinations() {
				key := fmt.Sprintf("%s %d %T", c.Name(), i, dst)
				prefix := fmt.Sprintf("fastrpc: %s: decoding into %T: ", c.Name(), dst)
				var err error
				var n uint64
				require.NotPanics(t, func() { n = allocated(func() { err = c.Unmarshal(in, dst) }) }, key)
				require.LessOrEqual(t, n, uint64(allocBudget), key)
				want, ok := accepted[key]
				if !ok {
					require.Error(t, err, "%s: garbage %x accepted, decoded %#v", key, in, dst)
					msg := err.Error()
					require.True(t, strings.HasPrefix(msg, prefix), "%s: error %q does not start with %q", key, msg, prefix)
					require.Equal(t, 1, strings.Count(msg, "fastrpc: "), "%s: error %q repeats the prefix", key, msg)
					continue
				}
				seen[key] = true
				require.NoError(t, err, "%s: valid input %x refused", key, in)
				require.Equal(t, want, reflect.ValueOf(dst).Elem().Interface(), key)
			}
		}
	}
	require.Len(t, seen, len(accepted), "an accepted case names no combination the test runs")
}
