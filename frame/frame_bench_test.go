package frame_test

import (
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
)

func BenchmarkRequestHeaderEncode(b *testing.B) {
	b.ReportAllocs()
	var buf [frame.RequestHeaderSize]byte
	h := frame.RequestHeader{Method: frame.MethodID("ping"), Length: 4, Timeout: 1500 * time.Millisecond}
	b.SetBytes(frame.RequestHeaderSize)
	for b.Loop() {
		frame.PutRequestHeader(buf[:], h)
	}
}

func BenchmarkRequestHeaderDecode(b *testing.B) {
	b.ReportAllocs()
	var buf [frame.RequestHeaderSize]byte
	frame.PutRequestHeader(buf[:], frame.RequestHeader{Method: frame.MethodID("ping"), Length: 4, Timeout: 1500 * time.Millisecond})
	b.SetBytes(frame.RequestHeaderSize)
	for b.Loop() {
		if _, err := frame.ParseRequestHeader(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseHeaderEncode(b *testing.B) {
	b.ReportAllocs()
	var buf [frame.ResponseHeaderSize]byte
	h := frame.ResponseHeader{Status: frame.StatusApplicationError, Code: 42, Length: 11}
	b.SetBytes(frame.ResponseHeaderSize)
	for b.Loop() {
		frame.PutResponseHeader(buf[:], h)
	}
}

func BenchmarkResponseHeaderDecode(b *testing.B) {
	b.ReportAllocs()
	var buf [frame.ResponseHeaderSize]byte
	frame.PutResponseHeader(buf[:], frame.ResponseHeader{Status: frame.StatusApplicationError, Code: 42, Length: 11})
	b.SetBytes(frame.ResponseHeaderSize)
	for b.Loop() {
		if _, err := frame.ParseResponseHeader(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMethodID(b *testing.B) {
	b.ReportAllocs()
	name := "inventory.ReserveItems"
	b.SetBytes(int64(len(name)))
	for b.Loop() {
		sinkID = frame.MethodID(name)
	}
}
