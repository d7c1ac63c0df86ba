package typed_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/typed"
)

// Small is the "small struct" of the benchmarks: a few fields.
type Small struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Score  float64 `json:"score"`
	Active bool    `json:"active"`
}

// Medium is a slice of 100 Small.
type Medium struct {
	Items []Small `json:"items"`
}

func smallValue() Small { return Small{ID: 12345, Name: "widget-42", Score: 98.6, Active: true} }

func mediumValue() Medium {
	m := Medium{Items: make([]Small, 100)}
	for i := range m.Items {
		m.Items[i] = Small{ID: int64(i), Name: fmt.Sprintf("item-%03d", i), Score: float64(i) / 3, Active: i%2 == 0}
	}
	return m
}

var rawBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// rawEcho is the raw path's handler: it reads the request into a pooled
// buffer and sends it back, as the typed handler does minus the codec.
func rawEcho(op *master.IOOperator) error {
	bp := rawBuffers.Get().(*[]byte)
	defer rawBuffers.Put(bp)
	b := (*bp)[:op.ReadDataLeft()]
	if _, err := io.ReadFull(op, b); err != nil {
		return err
	}
	return op.WriteIOFromBuffer(b)
}

// BenchmarkRoundTrip compares typed calls, per codec, with the raw path
// carrying the same bytes (the msgpack encoding) into a reused buffer.
// The typed calls go through typed.Call (cached codec lookup); "-stub"
// variants through a typed.Method.
func BenchmarkRoundTrip(b *testing.B) {
	m := master.New(master.Config{})
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON} {
		if err := typed.Register(m, "small."+c.Name(), c, echo[Small]); err != nil {
			b.Fatal(err)
		}
		if err := typed.Register(m, "medium."+c.Name(), c, echo[Medium]); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Register("raw", master.MethodInfo{}, rawEcho); err != nil {
		b.Fatal(err)
	}
	s := dial(b, serve(b, m))
	ctx := context.Background()

	run := func(b *testing.B, size string, req any) {
		for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON} {
			method := size + "." + c.Name()
			b.Run(c.Name(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var err error
					switch r := req.(type) {
					case Small:
						_, err = typed.Call[Small, Small](ctx, s, method, r)
					case Medium:
						_, err = typed.Call[Medium, Medium](ctx, s, method, r)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		if r, ok := req.(Small); ok {
			for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR, codec.JSON} {
				stub := typed.NewMethod[Small, Small](s, "small."+c.Name(), c)
				b.Run(c.Name()+"-stub", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := stub.Call(ctx, r); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
		payload, err := codec.Msgpack.Append(nil, req)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("raw", func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 64<<10)
			for b.Loop() {
				dst, err = s.CallAppend(ctx, "raw", payload, dst[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
			if len(dst) != len(payload) {
				b.Fatalf("raw echo returned %d bytes, want %d", len(dst), len(payload))
			}
		})
	}
	b.Run("small", func(b *testing.B) { run(b, "small", smallValue()) })
	b.Run("medium", func(b *testing.B) { run(b, "medium", mediumValue()) })
}
