package codec_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/module"
)

// gobCodec is a third-party codec: encoding/gob, registered as the module
// "codec.gob" from its own package. A master serving a method with it
// advertises the encoding "gob"; slaves that import this package find it
// by that name.
type gobCodec struct{}

func (gobCodec) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "codec.gob", New: func() module.Module { return gobCodec{} }}
}

func (gobCodec) Name() string { return "gob" }

func (gobCodec) Append(dst []byte, v any) ([]byte, error) {
	w := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(w).Encode(v); err != nil {
		return dst, err
	}
	return w.Bytes(), nil
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("gob: %d trailing bytes", r.Len())
	}
	return nil
}

func init() { module.Register(gobCodec{}) }

// A codec from another package registers itself in an init function with
// module.Register; from then on codec.Lookup, and so the typed layer, find
// it by name.
func Example_register() {
	c, err := codec.Lookup("gob")
	if err != nil {
		panic(err)
	}
	type point struct{ X, Y int }
	b, err := c.Append(nil, point{3, 4})
	if err != nil {
		panic(err)
	}
	var p point
	if err := c.Unmarshal(b, &p); err != nil {
		panic(err)
	}
	fmt.Println(c.Name(), p)

	// A name nobody registered is an error listing the known codecs.
	_, err = codec.Lookup("yaml")
	fmt.Println(errors.Is(err, module.ErrNotFound))
	// Output:
	// gob {3 4}
	// true
}

func ExampleLookup() {
	c, err := codec.Lookup("msgpack")
	if err != nil {
		panic(err)
	}
	b, _ := c.Append(nil, map[string]int{"a": 1})
	var m map[string]int
	_ = c.Unmarshal(b, &m)
	fmt.Printf("%s: % x -> %v\n", c.Name(), b, m)
	// Output: msgpack: 81 a1 61 01 -> map[a:1]
}

func ExampleCodec_append() {
	buf := make([]byte, 0, 64) // reused between calls: no allocation for the bytes
	for _, v := range []string{"one", "two"} {
		buf, _ = codec.CBOR.Append(buf[:0], v)
		fmt.Printf("% x\n", buf)
	}
	// Output:
	// 63 6f 6e 65
	// 63 74 77 6f
}
