package codec_test

import (
	"testing"

	"github.com/AmanTrance/FastRpc/codec"
)

// fuzzUnmarshal feeds arbitrary bytes to c.Unmarshal with a few
// destinations: it must never panic, and whatever it accepts must encode
// again.
func fuzzUnmarshal(f *testing.F, c codec.Codec) {
	seeds := []any{sample(), Rich{}, []any{1, "x", nil, 2.5, true}, map[string]any{"k": []int{1, 2}}, "s", 42, []byte{1, 2}}
	for _, s := range seeds {
		b, err := c.Append(nil, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nested(c, 200))
	for _, b := range hugeLengths(c.Name()) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Rich
		if err := c.Unmarshal(data, &r); err == nil {
			if _, err := c.Append(nil, &r); err != nil {
				t.Fatalf("decoded %d bytes into Rich but cannot encode it again: %v", len(data), err)
			}
		}
		var v any
		_ = c.Unmarshal(data, &v)
		var l []Inner
		_ = c.Unmarshal(data, &l)
		var m map[string]int64
		_ = c.Unmarshal(data, &m)
	})
}

func FuzzUnmarshalMsgpack(f *testing.F) { fuzzUnmarshal(f, codec.Msgpack) }
func FuzzUnmarshalCBOR(f *testing.F)    { fuzzUnmarshal(f, codec.CBOR) }
func FuzzUnmarshalJSON(f *testing.F)    { fuzzUnmarshal(f, codec.JSON) }

// FuzzScanMsgpack checks the msgpack pre-scan against the library: input
// the scan accepts must decode without panicking, and whatever the library
// encodes from the result, the scan must accept.
func FuzzScanMsgpack(f *testing.F) {
	f.Add([]byte{0x93, 0x01, 0xa1, 'a', 0xc0})
	f.Add([]byte{0xdd, 0, 0, 0, 1, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if codec.ScanMsgpack(data) != nil {
			return
		}
		var v any
		if err := codec.Msgpack.Unmarshal(data, &v); err != nil {
			return // e.g. an unknown ext type
		}
		b, err := codec.Msgpack.Append(nil, v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		if err := codec.ScanMsgpack(b); err != nil {
			t.Fatalf("scan rejects msgpack's own encoding %x of %#v: %v", b, v, err)
		}
	})
}
