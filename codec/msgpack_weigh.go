package codec

import (
	"fmt"
)

// msgpack checks data as scanMsgpack does (with the same errors) and
// weighs it: w.cost is then what decoding it into w's target allocates, at
// most. It costs more than scanMsgpack, which is what payloads too small
// to be costly get instead (see tinfo.amp).
func (w *weigher) msgpack(data []byte) error {
	pos := 0
	need := func(k uint64) error { return mpNeed(data, pos, k) }
	length := func(size int) (uint64, error) { return mpLength(data, &pos, size) }
	var it item
	// payload takes l bytes of string, binary or ext payload.
	payload := func(l uint64) error {
		if err := need(l); err != nil {
			return err
		}
		it.l, it.b = l, data[pos:pos+int(l)]
		pos += int(l)
		return nil
	}
	// container checks a container of count entries of per values each,
	// and opens it.
	container := func(count, per uint64) error {
		if count > MaxElements {
			return fmt.Errorf("container at offset %d declares %d elements, the limit is %d", pos, count, MaxElements)
		}
		values := count * per
		if values > uint64(len(data)-pos) {
			return fmt.Errorf("%w: container at offset %d declares %d values but only %d bytes follow", errMsgpackTruncated, pos, values, len(data)-pos)
		}
		if values > 0 && w.depth > MaxDepth {
			return fmt.Errorf("nesting deeper than %d levels at offset %d", MaxDepth, pos)
		}
		it.u = count
		w.pos = pos
		w.open(w.next(), &it)
		if values == 0 {
			w.close(false)
		}
		return nil
	}

	for {
		for w.stack[w.depth-1].left == 0 {
			if w.depth == 1 {
				if pos != len(data) {
					return fmt.Errorf("%d trailing bytes after the value", len(data)-pos)
				}
				return nil
			}
			w.pos = pos
			w.close(false)
		}
		if pos >= len(data) {
			if len(data) == 0 {
				return fmt.Errorf("%w: empty input", errMsgpackTruncated)
			}
			return fmt.Errorf("%w: a value is missing at offset %d", errMsgpackTruncated, pos)
		}
		w.start = pos
		c := data[pos]
		pos++
		it = item{}
		opened := false // a container: container has opened it
		var err error
		switch {
		case c <= 0x7f: // positive fixint
			it.kind, it.u = iUint, uint64(c)
		case c >= 0xe0: // negative fixint
			it.kind, it.u = iNint, uint64(int64(int8(c)))
		case c <= 0x8f: // fixmap
			it.kind, opened = iMap, true
			err = container(uint64(c&0x0f), 2)
		case c <= 0x9f: // fixarray
			it.kind, opened = iArray, true
			err = container(uint64(c&0x0f), 1)
		case c <= 0xbf: // fixstr
			it.kind = iText
			err = payload(uint64(c & 0x1f))
		default:
			switch c {
			case 0xc0:
				it.kind = iNil
			case 0xc2, 0xc3:
				it.kind = iBool
			case 0xc1:
				err = fmt.Errorf("reserved code 0xc1 at offset %d", pos-1)
			case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
				it.kind = iBytes
				var l uint64
				if l, err = length(lenSize(c)); err == nil {
					err = payload(l)
				}
			case 0xd9, 0xda, 0xdb: // str 8, 16, 32
				it.kind = iText
				var l uint64
				if l, err = length(lenSize(c)); err == nil {
					err = payload(l)
				}
			case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type, data
				it.kind = iExt
				var l uint64
				if l, err = length(1 << (c - 0xc7)); err == nil {
					if err = need(1 + l); err == nil {
						pos++ // the type
						err = payload(l)
					}
				}
			case 0xca, 0xcb: // float32, float64
				it.kind = iFloat
				_, err = length(4 << (c - 0xca))
			case 0xcc, 0xcd, 0xce, 0xcf: // uint 8, 16, 32, 64
				it.kind = iUint
				it.u, err = length(1 << (c - 0xcc))
			case 0xd0, 0xd1, 0xd2, 0xd3: // int 8, 16, 32, 64
				size := 1 << (c - 0xd0)
				var u uint64
				u, err = length(size)
				// Sign-extend; negative values are iNint.
				shift := 64 - 8*size
				it.u = uint64(int64(u<<shift) >> shift)
				it.kind = iUint
				if int64(it.u) < 0 {
					it.kind = iNint
				}
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
				it.kind = iExt
				if err = need(1); err == nil {
					pos++
					err = payload(1 << (c - 0xd4))
				}
			case 0xdc, 0xdd: // array 16, 32
				it.kind, opened = iArray, true
				var l uint64
				if l, err = length(2 << (c - 0xdc)); err == nil {
					err = container(l, 1)
				}
			case 0xde, 0xdf: // map 16, 32
				it.kind, opened = iMap, true
				var l uint64
				if l, err = length(2 << (c - 0xde)); err == nil {
					err = container(l, 2)
				}
			}
		}
		if err != nil {
			return err
		}
		if !opened {
			w.pos = pos
			w.value(&it)
		}
	}
}
