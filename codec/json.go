package codec

import (
	"encoding/json"
	"sync"

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// jsonCodec is encoding/json. Its decoder validates the whole input before
// decoding and refuses nesting deeper than 10000 levels; JSON has no
// declared lengths, so memory follows the input's size.
type jsonCodec struct{}

func (jsonCodec) FastRpcModule() module.ModuleInfo { return moduleInfo(nameJSON, jsonCodec{}) }

func (jsonCodec) Name() string { return nameJSON }

type jsonEncoder struct {
	enc *json.Encoder
	w   appendWriter
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.w)
	return e
}}

func (jsonCodec) Append(dst []byte, v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	e.w.b = dst
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	jsonEncoders.Put(e)
	if err != nil {
		return dst, errtext.Errorf("json: encoding %T: %w", v, err)
	}
	// Encoder.Encode ends the value with a newline; Marshal does not.
	if n := len(out); n > len(dst) && out[n-1] == '\n' {
		out = out[:n-1]
	}
	return out, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return errtext.Errorf("json: decoding into %T: %w", v, err)
	}
	return nil
}
