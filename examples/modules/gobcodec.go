package main

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/module"
)

// gobCodec is a codec module defined in this program rather than in
// FastRpc: encoding/gob, registered as "codec.gob". A master serving a
// typed method with it advertises the encoding "gob" in its capabilities,
// and typed.Call on a slave finds the codec by that name, because the
// slave's program imports the package that registered it (here, this one;
// elsewhere a blank import of your codec's package).
type gobCodec struct{}

// Checked at compile time: the two interfaces a codec module implements.
var (
	_ codec.Codec   = gobCodec{}
	_ module.Module = gobCodec{}
)

func init() { module.Register(gobCodec{}) }

// FastRpcModule implements module.Module. The ID's last label must equal
// Name, the encoding masters advertise.
func (gobCodec) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceCodec + ".gob", New: func() module.Module { return gobCodec{} }}
}

// Name implements codec.Codec.
func (gobCodec) Name() string { return "gob" }

// Append implements codec.Codec: the gob stream of v (type descriptions,
// then the value) appended to dst.
func (gobCodec) Append(dst []byte, v any) ([]byte, error) {
	w := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(w).Encode(v); err != nil {
		return dst, fmt.Errorf("gob: encoding %T: %w", v, err)
	}
	return w.Bytes(), nil
}

// Unmarshal implements codec.Codec. gob allocates a message's declared
// length before reading it, so the lengths are checked against the bytes
// actually present first: codec.Codec requires that a short hostile
// payload cost an error, not memory.
func (gobCodec) Unmarshal(data []byte, v any) error {
	for rest := data; len(rest) > 0; {
		n, size := gobUint(rest)
		if size == 0 || n > uint64(len(rest)-size) {
			return fmt.Errorf("gob: a message declares more bytes than the %d present", len(data))
		}
		rest = rest[size+int(n):]
	}
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("gob: decoding into %T: %w", v, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("gob: %d trailing bytes", r.Len())
	}
	return nil
}

// gobUint reads one of gob's unsigned integers: a byte below 128 is the
// value; otherwise the byte is the negated count of big-endian bytes that
// follow. size is 0 when b is too short or the count is invalid.
func gobUint(b []byte) (n uint64, size int) {
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	count := 256 - int(b[0]) // the byte is -count as an int8
	if count > 8 || len(b) < 1+count {
		return 0, 0
	}
	for _, c := range b[1 : 1+count] {
		n = n<<8 | uint64(c)
	}
	return n, 1 + count
}
