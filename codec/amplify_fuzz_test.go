package codec_test

import (
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/AmanTrance/FastRpc/codec"
)

// fuzzSlack covers what the runtime and the test harness allocate around
// one measured Unmarshal.
const fuzzSlack = 64 << 10

// boundTargets are the types FuzzDecodeAllocBound decodes into: the
// costliest shapes, and ordinary ones.
func boundTargets() []func() any {
	return []func() any{
		newOf[[]Wide](), newOf[[]*Wide](), newOf[[][]Wide](), newOf[map[string]any](), newOf[any](),
		newOf[[]any](), newOf[[][]int64](), newOf[map[int64]Wide](), newOf[map[string][]int64](),
		newOf[Rich](), newOf[[]string](), newOf[[][4]int64](), newOf[holder](), newOf[[]time.Time](),
		newOf[[]int8](), newOf[map[any]any](), newOf[[]*int64](),
	}
}

// FuzzDecodeAllocBound decodes arbitrary bytes with msgpack and cbor into
// a few target types and fails if one Unmarshal allocates more than
// codec.AllocBound, or more than the codec's own estimate (which is what
// the bound is enforced on).
func FuzzDecodeAllocBound(f *testing.F) {
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		// Small copies for the mutator, and copies large enough that
		// decoding them unweighed would break the bound.
		for _, size := range []int{200, 4 << 10} {
			for _, s := range amplifyShapes(c, size) {
				f.Add(c.Name() == "cbor", s.data)
			}
		}
		for _, v := range []any{sample(), map[string]any{"k": []any{1, "x", 2.5, nil}}, []Wide{{F00: 1}}} {
			b, err := c.Append(nil, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(c.Name() == "cbor", b)
		}
	}
	targets := boundTargets()
	f.Fuzz(func(t *testing.T, useCBOR bool, data []byte) {
		c := codec.Msgpack
		if useCBOR {
			c = codec.CBOR
		}
		for _, dst := range targets {
			v := dst()
			estimate, werr := codec.Estimate(c, data, v)
			if !useCBOR && (werr == nil) != (codec.ScanMsgpack(data) == nil) {
				t.Fatalf("the weigher (%v) and the scan (%v) disagree on %x", werr, codec.ScanMsgpack(data), data)
			}
			v = dst()
			var err error
			n := allocatedNoGC(func() { err = c.Unmarshal(data, v) })
			if n > allocBound(len(data))+fuzzSlack {
				t.Fatalf("%s: %d bytes into %T allocated %d, more than the bound %d (err %v)", c.Name(), len(data), v, n, codec.AllocBound(len(data)), err)
			}
			if werr == nil && n > estimate+fuzzSlack {
				t.Fatalf("%s: %d bytes into %T allocated %d, more than the estimate %d (err %v)", c.Name(), len(data), v, n, estimate, err)
			}
			// Payloads the codec does not weigh rely on this.
			if static := codec.StaticBound(c, len(data), v); werr == nil && estimate > static {
				t.Fatalf("%s: %d bytes into %T: estimate %d above the per-item bound %d", c.Name(), len(data), v, estimate, static)
			}
		}
	})
}

// FuzzWeighCBOR checks the cbor weigher's reading against the library's:
// whatever cbor.Wellformed accepts, the weigher must read too, or the codec
// would refuse well-formed payloads.
func FuzzWeighCBOR(f *testing.F) {
	for _, s := range amplifyShapes(codec.CBOR, 100) {
		f.Add(s.data)
	}
	for _, b := range hugeLengths("cbor") {
		f.Add(b)
	}
	f.Add([]byte{0x9f, 0x5f, 0x41, 0x00, 0xff, 0xbf, 0x61, 'a', 0xf9, 0x3c, 0x00, 0xff, 0xff}) // indefinite lengths
	f.Add([]byte{0xd9, 0xd9, 0xf7, 0xc1, 0xfb, 0x41, 0xd0, 0, 0, 0, 0, 0, 0})                  // tags, float64
	f.Fuzz(func(t *testing.T, data []byte) {
		if cbor.Wellformed(data) != nil {
			return
		}
		var v any
		if _, err := codec.Estimate(codec.CBOR, data, &v); err != nil {
			t.Fatalf("well-formed %x not read by the weigher: %v", data, err)
		}
	})
}
