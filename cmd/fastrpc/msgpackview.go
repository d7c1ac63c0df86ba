package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/AmanTrance/FastRpc/codec"
)

// decodeMsgpackAny decodes one msgpack value for printing: integers as
// int64 or uint64 (never float64), floats as float64, str as string, bin
// as []byte, maps with any keys as map[string]any with the keys as text
// (two that print alike are an error), the timestamp extension as a
// time.Time and other extensions as {"ext": TYPE, "data": BYTES}. It reads
// the bytes itself, rather than through the msgpack library, to take maps
// whatever their keys and to allocate in proportion to the input: a
// declared length larger than what is left is an error before anything is
// made.
func decodeMsgpackAny(data []byte) (any, error) {
	r := &mpReader{data: data}
	v, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if r.pos != len(data) {
		return nil, fmt.Errorf("msgpack: %d bytes follow the value at byte %d", len(data)-r.pos, r.pos)
	}
	return v, nil
}

type mpReader struct {
	data []byte
	pos  int
}

var errMsgpackShort = errors.New("msgpack: the data ends early")

func (r *mpReader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.data)-r.pos) {
		return nil, errMsgpackShort
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// uint reads a big-endian unsigned integer of size bytes.
func (r *mpReader) uint(size int) (uint64, error) {
	b, err := r.take(uint64(size))
	if err != nil {
		return 0, err
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, nil
}

func (r *mpReader) value(depth int) (any, error) {
	if depth > codec.MaxDepth {
		return nil, fmt.Errorf("msgpack: nested deeper than %d levels", codec.MaxDepth)
	}
	b, err := r.take(1)
	if err != nil {
		return nil, err
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0x80 && c <= 0x8f:
		return r.mapOf(uint64(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return r.array(uint64(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return r.str(uint64(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := r.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		p, err := r.take(n)
		if err != nil {
			return nil, err
		}
		return append([]byte{}, p...), nil
	case 0xc7, 0xc8, 0xc9:
		n, err := r.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return r.ext(n)
	case 0xca:
		u, err := r.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := r.uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := r.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
		return u, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		u, err := r.uint(size)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return r.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := r.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case 0xdc, 0xdd:
		n, err := r.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return r.array(n, depth)
	case 0xde, 0xdf:
		n, err := r.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return r.mapOf(n, depth)
	}
	return nil, fmt.Errorf("msgpack: invalid code 0x%02x at byte %d", c, r.pos-1)
}

func (r *mpReader) str(n uint64) (any, error) {
	p, err := r.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(p) {
		// Not text: shown as the bytes it is.
		return append([]byte{}, p...), nil
	}
	return string(p), nil
}

// left bounds a declared count by what is left: every element takes a
// byte at least.
func (r *mpReader) left(n, per uint64) (int, error) {
	if n > uint64(codec.MaxElements) || n*per > uint64(len(r.data)-r.pos) {
		return 0, errMsgpackShort
	}
	return int(n), nil
}

func (r *mpReader) array(n uint64, depth int) (any, error) {
	count, err := r.left(n, 1)
	if err != nil {
		return nil, err
	}
	a := make([]any, count)
	for i := range a {
		if a[i], err = r.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (r *mpReader) mapOf(n uint64, depth int) (any, error) {
	count, err := r.left(n, 2)
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, count)
	for range count {
		k, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, err := printableKey(k)
		if err != nil {
			return nil, err
		}
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("two keys print as %q", key)
		}
		m[key] = v
	}
	return m, nil
}

// ext reads an extension's type and n bytes of data.
func (r *mpReader) ext(n uint64) (any, error) {
	t, err := r.take(1)
	if err != nil {
		return nil, err
	}
	p, err := r.take(n)
	if err != nil {
		return nil, err
	}
	typ := int8(t[0])
	if typ == -1 {
		switch len(p) {
		case 4:
			return time.Unix(int64(binary.BigEndian.Uint32(p)), 0).UTC(), nil
		case 8:
			u := binary.BigEndian.Uint64(p)
			return time.Unix(int64(u&(1<<34-1)), int64(u>>34)).UTC(), nil
		case 12:
			return time.Unix(int64(binary.BigEndian.Uint64(p[4:])), int64(binary.BigEndian.Uint32(p))).UTC(), nil
		}
	}
	return map[string]any{"ext": typ, "data": append([]byte{}, p...)}, nil
}
