package codec

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// Names of the built-in codecs, as advertised in a master's capabilities;
// Codec.Name returns them.
const (
	nameMsgpack = "msgpack"
	nameCBOR    = "cbor"
	nameJSON    = "json"
	nameRaw     = "raw"
)

// Decoding limits shared by the built-in codecs. They hold for any input,
// so a hostile payload costs an error instead of memory or stack.
const (
	// MaxDepth is the deepest nesting of arrays and maps (and, in CBOR,
	// tags) that msgpack and cbor decode. encoding/json has its own limit
	// of 10000 levels, which it enforces before decoding.
	MaxDepth = 100
	// MaxElements is the most elements an msgpack or cbor array, or pairs
	// a map, may declare. Independently of it, a declared count larger
	// than the bytes that follow is rejected before anything is allocated.
	MaxElements = 1 << 22
)

// Codec turns Go values into bytes and back for the typed layer.
//
// Implementations must be safe for concurrent use and must follow these
// rules, on which package typed relies to reuse its buffers:
//
//   - Name is the encoding a master advertises in its capabilities. It is
//     also the codec's module name, so it uses only a-z, 0-9 and _.
//   - Append appends the encoding of v to dst and returns the extended
//     slice, like strconv.AppendInt. v is often a pointer to the value.
//     On error the returned slice has dst's length (spare capacity may
//     have been written to).
//   - Unmarshal decodes all of data (trailing bytes are an error) into the
//     value v points to. Nothing decoded may alias data, and data must not
//     be retained: the caller reuses it as soon as Unmarshal returns.
//     Hostile data must give an error, never a panic, unbounded recursion,
//     or allocations out of proportion with len(data).
type Codec interface {
	Name() string
	Append(dst []byte, v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// Built-in codecs, also registered as the modules "codec.msgpack",
// "codec.cbor", "codec.json" and "codec.raw".
var (
	// Msgpack is MessagePack (github.com/vmihailenco/msgpack/v5): compact
	// and widely spoken. See the package documentation for how each codec
	// treats times, integers and nils.
	Msgpack Codec = msgpackCodec{}
	// CBOR is RFC 8949 CBOR (github.com/fxamacker/cbor/v2): the most
	// compact and the fastest of the built-ins, and an IETF standard.
	CBOR Codec = cborCodec{}
	// JSON is encoding/json: readable, and what other languages speak
	// most easily; larger and slower than the binary codecs.
	JSON Codec = jsonCodec{}
	// Raw passes []byte through unchanged: Append takes []byte or *[]byte,
	// Unmarshal takes *[]byte and copies.
	Raw Codec = rawCodec{}
)

func init() {
	module.Register(msgpackCodec{})
	module.Register(cborCodec{})
	module.Register(jsonCodec{})
	module.Register(rawCodec{})
}

// found caches the codecs Lookup returned, by name. Modules register only
// from init functions, so an entry never goes stale.
var found sync.Map // string -> Codec

// Lookup returns the codec registered as the module "codec.<name>" (in
// module.NamespaceCodec). A name with no codec is an error matching
// module.ErrNotFound that lists the names known; a module that does not
// implement Codec, or whose Name differs from name, is an error too. A
// codec, once found, serves the whole process: its Cleanup, if it has one,
// never runs.
func Lookup(name string) (Codec, error) {
	if c, ok := found.Load(name); ok {
		return c.(Codec), nil
	}
	id := module.ID(module.NamespaceCodec + "." + name)
	if _, err := module.Lookup(id); err != nil {
		if errors.Is(err, module.ErrNotFound) {
			return nil, errtext.Errorf("codec %q: %w; known codecs: %s (add one with module.Register under %q)",
				name, module.ErrNotFound, known(), module.NamespaceCodec+".<name>")
		}
		return nil, errtext.Errorf("codec %q: %w", name, err)
	}
	raw, err := json.Marshal(map[string]string{"module": name})
	if err != nil {
		return nil, errtext.Errorf("codec %q: %w", name, err)
	}
	loader := module.NewLoader(context.Background())
	c, err := module.LoadAs[Codec](loader, module.NamespaceCodec, raw)
	if err != nil {
		return nil, errtext.Errorf("codec %q: %w", name, err)
	}
	if c.Name() != name {
		_ = loader.Cleanup()
		return nil, errtext.Errorf("codec %q: module %q names itself %q; a codec's Name must be its module name", name, id, c.Name())
	}
	actual, loaded := found.LoadOrStore(name, c)
	if loaded {
		_ = loader.Cleanup() // another Lookup found it first
	}
	return actual.(Codec), nil
}

// Names returns the names of the registered codecs, sorted.
func Names() []string {
	infos := module.Namespace(module.NamespaceCodec)
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = info.ID.Name()
	}
	return names
}

func known() string {
	if n := Names(); len(n) > 0 {
		return strings.Join(n, ", ")
	}
	return "none"
}

// moduleInfo builds a built-in codec's module.ModuleInfo.
func moduleInfo(name string, c module.Module) module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(module.NamespaceCodec + "." + name), New: func() module.Module { return c }}
}
