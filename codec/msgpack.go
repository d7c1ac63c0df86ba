package codec

import (
	"bytes"
	"errors"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// msgpackCodec is MessagePack on github.com/vmihailenco/msgpack/v5.
//
// The library pre-allocates slices from the length an array header
// declares, without its own limit in v5.4.1, so a 5-byte array32 header
// could ask for gigabytes; and even declared lengths the input holds can
// cost hundreds of times the input once decoded. Unmarshal therefore walks
// the bytes first, alongside the target type (weigher.msgpack), and
// refuses declared lengths that the remaining input cannot hold, nesting
// beyond MaxDepth, trailing bytes, and payloads whose decoding would
// allocate more than AllocBound; only then does the library decode.
type msgpackCodec struct{}

// errLibraryPanic marks input or values the msgpack library panicked on.
var errLibraryPanic = errors.New("the msgpack library panicked on it (a library bug)")

func (msgpackCodec) FastRpcModule() module.ModuleInfo { return moduleInfo(nameMsgpack, msgpackCodec{}) }

func (msgpackCodec) Name() string { return nameMsgpack }

// appendWriter is an io.Writer and io.ByteWriter appending to a slice, so
// the encoder writes straight into the caller's buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

type msgpackEncoder struct {
	enc *msgpack.Encoder
	w   appendWriter
}

// maxPooledInput is the largest input after which a decoder goes back to
// the pool.
const maxPooledInput = 1 << 20

type msgpackDecoder struct {
	dec *msgpack.Decoder
	r   bytes.Reader
}

var (
	msgpackEncoders = sync.Pool{New: func() any {
		e := &msgpackEncoder{}
		e.enc = msgpack.NewEncoder(&e.w)
		return e
	}}
	msgpackDecoders = sync.Pool{New: func() any {
		d := &msgpackDecoder{}
		d.dec = msgpack.NewDecoder(&d.r)
		return d
	}}
)

func (msgpackCodec) Append(dst []byte, v any) (out []byte, err error) {
	defer func() {
		// The library panics on some values (nil pointers behind
		// interfaces, among others); an encoder that panicked is not
		// put back in the pool.
		if r := recover(); r != nil {
			out, err = dst, errtext.Errorf("msgpack: encoding %T: %w: %v", v, errLibraryPanic, r)
		}
	}()
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = dst
	e.enc.Reset(&e.w)
	e.enc.SetCustomStructTag("json")
	err = e.enc.Encode(v)
	out = e.w.b
	e.w.b = nil
	msgpackEncoders.Put(e)
	if err != nil {
		return dst, errtext.Errorf("msgpack: encoding %T: %w", v, err)
	}
	return out, nil
}

func (msgpackCodec) Unmarshal(data []byte, v any) (err error) {
	defer func() {
		// v5.4.1 panics on some well-formed input, such as nil for a
		// time.Time field ({"t": nil}); the contract is an error. A
		// decoder that panicked is not put back in the pool.
		if r := recover(); r != nil {
			err = errtext.Errorf("msgpack: decoding into %T: %w: %v", v, errLibraryPanic, r)
		}
	}()
	if err := weighMsgpack(data, v); err != nil {
		return err
	}
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.r.Reset(data)
	d.dec.Reset(&d.r)
	// Integers decoded into interfaces become int64 or uint64 and floats
	// float64, whatever width the encoder chose, as with cbor.
	d.dec.UseLooseInterfaceDecoding(true)
	// Fields without a msgpack tag are named by their json tag, as in cbor.
	d.dec.SetCustomStructTag("json")
	err = d.dec.Decode(v)
	d.r.Reset(nil)
	d.dec.Reset(&d.r)
	// The decoder keeps a scratch buffer as large as the largest string
	// it read, at most len(data); large ones are not kept in the pool.
	if len(data) <= maxPooledInput {
		msgpackDecoders.Put(d)
	}
	if err != nil {
		return errtext.Errorf("msgpack: decoding into %T: %w", v, err)
	}
	return nil
}

// weighMsgpack checks data and what decoding it into v would allocate.
// A payload too small to cost more than the bound whatever it holds is
// only checked.
func weighMsgpack(data []byte, v any) error {
	ti, target := targetInfo(cMsgpack, v)
	if ti == nil || ti.cheap(len(data)) {
		// (Not a pointer: the library says so, after the checks.)
		if err := scanMsgpack(data); err != nil {
			return errtext.Errorf("msgpack: decoding into %T: %w", v, err)
		}
		return nil
	}
	w := weighers.Get().(*weigher)
	w.reset(cMsgpack, ti)
	err := w.walk(data)
	if err == nil {
		err = w.refuse(target, len(data))
	} else {
		err = errtext.Errorf("msgpack: decoding into %T: %w", v, err)
	}
	weighers.Put(w)
	return err
}
