package codec

import (
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// rawCodec passes bytes through: for methods whose payload is already
// encoded, or is not structured at all.
type rawCodec struct{}

func (rawCodec) FastRpcModule() module.ModuleInfo { return moduleInfo(nameRaw, rawCodec{}) }

func (rawCodec) Name() string { return nameRaw }

// Append appends v, which must be a []byte or a *[]byte.
func (rawCodec) Append(dst []byte, v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return append(dst, b...), nil
	case *[]byte:
		if b == nil {
			return dst, nil
		}
		return append(dst, *b...), nil
	}
	return dst, errtext.Errorf("raw: cannot encode %T: the raw codec carries []byte only (use []byte or *[]byte)", v)
}

// Unmarshal copies data into the slice v points to, reusing its capacity
// as encoding/json does; v must be a non-nil *[]byte.
func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok || p == nil {
		return errtext.Errorf("raw: cannot decode into %T: the raw codec needs a non-nil *[]byte", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}
