package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errMsgpackTruncated is returned by scanMsgpack for input that ends inside
// a value.
var errMsgpackTruncated = errors.New("truncated input")

// mpNeed returns an error unless k more bytes follow pos in data.
func mpNeed(data []byte, pos int, k uint64) error {
	if k > uint64(len(data)-pos) {
		return fmt.Errorf("%w: %d bytes needed at offset %d, %d left", errMsgpackTruncated, k, pos, len(data)-pos)
	}
	return nil
}

// mpLength reads the big-endian number of size bytes (1, 2, 4 or 8) at
// *pos in data, and moves *pos past it.
func mpLength(data []byte, pos *int, size int) (uint64, error) {
	if err := mpNeed(data, *pos, uint64(size)); err != nil {
		return 0, err
	}
	var l uint64
	switch b := data[*pos:]; size {
	case 1:
		l = uint64(b[0])
	case 2:
		l = uint64(binary.BigEndian.Uint16(b))
	case 4:
		l = uint64(binary.BigEndian.Uint32(b))
	case 8:
		l = binary.BigEndian.Uint64(b)
	}
	*pos += size
	return l, nil
}

// scanMsgpack checks, without allocating and without recursion, that data
// is exactly one well-formed MessagePack value whose every declared length
// fits in the bytes that follow it, whose containers declare at most
// MaxElements entries, and that nests at most MaxDepth levels deep. With
// that established the decoder cannot be made to allocate from a length
// the input does not back, nor to recurse deeply; what it allocates per
// element is weighed by weigher.msgpack, which checks the same.
func scanMsgpack(data []byte) error {
	// left[i] is how many values the container at depth i still holds;
	// the current container's count is in n. Empty containers are not
	// pushed: they are leaves.
	var left [MaxDepth]uint64
	depth := 0
	n := uint64(1) // the top level holds one value
	pos := 0
	need := func(k uint64) error { return mpNeed(data, pos, k) }
	length := func(size int) (uint64, error) { return mpLength(data, &pos, size) }
	// skip passes k bytes of payload.
	skip := func(k uint64) error {
		if err := need(k); err != nil {
			return err
		}
		pos += int(k)
		return nil
	}
	// open starts a container of count elements, each made of per values.
	open := func(count, per uint64) error {
		if count > MaxElements {
			return fmt.Errorf("container at offset %d declares %d elements, the limit is %d", pos, count, MaxElements)
		}
		values := count * per
		if values > uint64(len(data)-pos) {
			return fmt.Errorf("%w: container at offset %d declares %d values but only %d bytes follow", errMsgpackTruncated, pos, values, len(data)-pos)
		}
		if values == 0 {
			return nil
		}
		if depth == MaxDepth {
			return fmt.Errorf("nesting deeper than %d levels at offset %d", MaxDepth, pos)
		}
		left[depth] = n
		depth++
		n = values
		return nil
	}

	for {
		for n == 0 {
			if depth == 0 {
				if pos != len(data) {
					return fmt.Errorf("%d trailing bytes after the value", len(data)-pos)
				}
				return nil
			}
			depth--
			n = left[depth]
		}
		if pos >= len(data) {
			if len(data) == 0 {
				return fmt.Errorf("%w: empty input", errMsgpackTruncated)
			}
			return fmt.Errorf("%w: a value is missing at offset %d", errMsgpackTruncated, pos)
		}
		c := data[pos]
		pos++
		n--
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		case c <= 0x8f: // fixmap
			err = open(uint64(c&0x0f), 2)
		case c <= 0x9f: // fixarray
			err = open(uint64(c&0x0f), 1)
		case c <= 0xbf: // fixstr
			err = skip(uint64(c & 0x1f))
		default:
			switch c {
			case 0xc0, 0xc2, 0xc3: // nil, false, true
			case 0xc1:
				err = fmt.Errorf("reserved code 0xc1 at offset %d", pos-1)
			case 0xc4, 0xd9, 0xc5, 0xda, 0xc6, 0xdb: // bin and str 8, 16, 32
				var l uint64
				if l, err = length(lenSize(c)); err == nil {
					err = skip(l)
				}
			case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type, data
				var l uint64
				if l, err = length(1 << (c - 0xc7)); err == nil {
					err = skip(1 + l)
				}
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				err = skip(4)
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				err = skip(8)
			case 0xcc, 0xd0: // uint8, int8
				err = skip(1)
			case 0xcd, 0xd1: // uint16, int16
				err = skip(2)
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
				err = skip(1 + 1<<(c-0xd4))
			case 0xdc, 0xdd: // array 16, 32
				var l uint64
				if l, err = length(2 << (c - 0xdc)); err == nil {
					err = open(l, 1)
				}
			case 0xde, 0xdf: // map 16, 32
				var l uint64
				if l, err = length(2 << (c - 0xde)); err == nil {
					err = open(l, 2)
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// lenSize is the size of the length field of a bin or str code.
func lenSize(c byte) int {
	switch c {
	case 0xc4, 0xd9:
		return 1
	case 0xc5, 0xda:
		return 2
	}
	return 4
}
