package codec

import (
	"bytes"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// cborCodec is CBOR on github.com/fxamacker/cbor/v2, with one EncMode and
// one DecMode built at start-up.
//
// The library checks well-formedness and its limits before decoding, but
// then sizes slices and maps from the counts the input declares, and
// carries on past errors, allocating an error value per element that does
// not fit. Unmarshal therefore first walks the bytes alongside the target
// type (weigher.cbor) and refuses payloads whose decoding would allocate
// more than AllocBound.
type cborCodec struct{}

func (cborCodec) FastRpcModule() module.ModuleInfo { return moduleInfo(nameCBOR, cborCodec{}) }

func (cborCodec) Name() string { return nameCBOR }

var (
	cborEnc cbor.UserBufferEncMode
	cborDec cbor.DecMode
	// cborBuffers holds bytes.Buffer headers that are pointed at the
	// caller's slice for one Append.
	cborBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func init() {
	var err error
	cborEnc, err = cbor.EncOptions{
		// Times keep their nanoseconds and their UTC offset, as RFC 3339
		// text under tag 0. (The library's default is whole seconds.)
		Time:    cbor.TimeRFC3339Nano,
		TimeTag: cbor.EncTagRequired,
	}.UserBufferEncMode()
	if err != nil {
		panic("codec: cbor EncOptions: " + err.Error())
	}
	cborDec, err = cbor.DecOptions{
		// Unmarshal checks the whole input is well formed, and these
		// limits hold, before it allocates anything; a declared length
		// larger than the input is an error at that stage.
		MaxNestedLevels:  MaxDepth,
		MaxArrayElements: MaxElements,
		MaxMapPairs:      MaxElements,
		// Indefinite-length items are allowed (other encoders send them);
		// their chunks are bounded by the input like everything else.
		IndefLength: cbor.IndefLengthAllowed,
		// Text must be valid UTF-8.
		UTF8: cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic("codec: cbor DecOptions: " + err.Error())
	}
}

func (cborCodec) Append(dst []byte, v any) ([]byte, error) {
	b := cborBuffers.Get().(*bytes.Buffer)
	*b = *bytes.NewBuffer(dst)
	err := cborEnc.MarshalToBuffer(v, b)
	out := b.Bytes()
	*b = bytes.Buffer{}
	cborBuffers.Put(b)
	if err != nil {
		return dst, errtext.Errorf("cbor: encoding %T: %w", v, err)
	}
	return out, nil
}

func (cborCodec) Unmarshal(data []byte, v any) error {
	// A payload too small to cost more than the bound whatever it holds
	// is not weighed.
	if ti, target := targetInfo(cCBOR, v); ti != nil && !ti.cheap(len(data)) {
		w := weighers.Get().(*weigher)
		w.reset(cCBOR, ti)
		err := w.walk(data)
		if err == nil {
			err = w.refuse(target, len(data))
		} else if werr := cborDec.Wellformed(data); werr != nil {
			// The library's words for what is wrong.
			err = errtext.Errorf("cbor: decoding into %T: %w", v, werr)
		} else {
			// Never expected (FuzzWeighCBOR checks): refused
			// rather than decoded unweighed.
			err = errtext.Errorf("cbor: decoding into %T: %w", v, err)
		}
		weighers.Put(w)
		if err != nil {
			return err
		}
	}
	if err := cborDec.Unmarshal(data, v); err != nil {
		return errtext.Errorf("cbor: decoding into %T: %w", v, err)
	}
	return nil
}
