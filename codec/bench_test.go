package codec_test

import (
	"fmt"
	"testing"

	"github.com/AmanTrance/FastRpc/codec"
)

type benchSmall struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Score  float64 `json:"score"`
	Active bool    `json:"active"`
}

type benchMedium struct {
	Items []benchSmall `json:"items"`
}

func benchValues() map[string]any {
	m := benchMedium{Items: make([]benchSmall, 100)}
	for i := range m.Items {
		m.Items[i] = benchSmall{ID: int64(i), Name: fmt.Sprintf("item-%03d", i), Score: float64(i) / 3, Active: i%2 == 0}
	}
	return map[string]any{"small": &benchSmall{ID: 12345, Name: "widget-42", Score: 98.6, Active: true}, "medium": &m}
}

// BenchmarkCodec measures each codec alone: Append into a reused buffer,
// and Unmarshal into a fresh value.
func BenchmarkCodec(b *testing.B) {
	for _, size := range []string{"small", "medium"} {
		v := benchValues()[size]
		for _, c := range structured {
			data, err := c.Append(nil, v)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(size+"/"+c.Name()+"/append", func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, 0, 64<<10)
				for b.Loop() {
					if buf, err = c.Append(buf[:0], v); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(size+"/"+c.Name()+"/unmarshal", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var err error
					switch size {
					case "small":
						var s benchSmall
						err = c.Unmarshal(data, &s)
					default:
						var m benchMedium
						err = c.Unmarshal(data, &m)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWeigh measures the walk that weighs a payload against its
// target type before decoding (payloads too small to matter skip it), and
// for msgpack the plain validity scan it replaces.
func BenchmarkWeigh(b *testing.B) {
	v := benchValues()["medium"]
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		data, err := c.Append(nil, v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var m benchMedium
			for b.Loop() {
				if _, err := codec.Estimate(c, data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	data, _ := codec.Msgpack.Append(nil, v)
	b.Run("msgpack-scan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := codec.ScanMsgpack(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
