package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// errCBORMalformed is what the cbor walk returns for input it cannot
// read. The library's own check then says what is wrong with it.
var errCBORMalformed = errors.New("malformed CBOR")

// cbor walks data, one CBOR data item, and weighs it: w.cost is then what
// decoding it into w's target allocates, at most. It accepts whatever the
// library's well-formedness check accepts (and a little more: nesting
// and element limits are the library's to enforce).
func (w *weigher) cbor(data []byte) error {
	pos := 0
	malformed := func(what string) error {
		return fmt.Errorf("%w: %s at offset %d", errCBORMalformed, what, pos)
	}
	// head reads the argument of the head whose initial byte is c.
	head := func(c byte) (val uint64, indef bool, err error) {
		ai := c & 0x1f
		switch {
		case ai < 24:
			return uint64(ai), false, nil
		case ai == 31:
			return 0, true, nil
		case ai > 27:
			return 0, false, malformed("reserved additional information")
		}
		size := 1 << (ai - 24)
		if size > len(data)-pos {
			return 0, false, malformed("truncated head")
		}
		switch size {
		case 1:
			val = uint64(data[pos])
		case 2:
			val = uint64(binary.BigEndian.Uint16(data[pos:]))
		case 4:
			val = uint64(binary.BigEndian.Uint32(data[pos:]))
		case 8:
			val = binary.BigEndian.Uint64(data[pos:])
		}
		pos += size
		return val, false, nil
	}
	var it item
	// chunks reads the chunks of an indefinite-length string of major
	// type major, up to its break.
	chunks := func(major byte) error {
		for {
			if pos >= len(data) {
				return malformed("unterminated indefinite-length string")
			}
			c := data[pos]
			pos++
			if c == 0xff {
				return nil
			}
			if c>>5 != major {
				return malformed("chunk of another type in an indefinite-length string")
			}
			l, indef, err := head(c)
			if err != nil {
				return err
			}
			if indef || l > uint64(len(data)-pos) {
				return malformed("bad chunk in an indefinite-length string")
			}
			if major == 3 && !it.bad && !utf8.Valid(data[pos:pos+int(l)]) {
				it.bad = true
			}
			it.l += l
			pos += int(l)
		}
	}

	for {
		for f := &w.stack[w.depth-1]; f.left == 0; f = &w.stack[w.depth-1] {
			if w.depth == 1 {
				if w.tags > 0 {
					return malformed("tag without content")
				}
				if pos != len(data) {
					return malformed("extraneous data")
				}
				return nil
			}
			w.pos = pos
			w.close(false)
		}
		if pos >= len(data) {
			return malformed("truncated input")
		}
		if w.tags == 0 {
			w.start = pos
		}
		c := data[pos]
		pos++
		if c == 0xff { // break
			if !w.stack[w.depth-1].indef || w.tags > 0 {
				return malformed("unexpected break")
			}
			w.pos = pos
			w.close(true)
			continue
		}
		major := c >> 5
		val, indef, err := head(c)
		if err != nil {
			return err
		}
		if indef && (major < 2 || major == 6) {
			return malformed("indefinite length for a type without one")
		}
		it.u, it.l, it.b, it.indef, it.bad, it.f32 = val, 0, nil, indef, false, false
		switch major {
		case 0:
			it.kind = iUint
		case 1:
			it.kind = iNint
		case 2, 3:
			it.kind = iBytes
			if major == 3 {
				it.kind = iText
			}
			if indef {
				if err := chunks(major); err != nil {
					return err
				}
			} else {
				if val > uint64(len(data)-pos) {
					return malformed("string longer than the input")
				}
				it.l, it.b = val, data[pos:pos+int(val)]
				pos += int(val)
			}
		case 4, 5:
			it.kind = iArray
			per := uint64(1)
			if major == 5 {
				it.kind, per = iMap, 2
			}
			if !indef && (val > MaxElements || val*per > uint64(len(data)-pos)) {
				return malformed("container longer than the input")
			}
			empty := !indef && val == 0
			if !empty && w.depth > MaxDepth+1 {
				return malformed("nesting too deep")
			}
			w.pos = pos
			w.open(w.next(), &it)
			w.stack[w.depth-1].indef = indef
			if empty {
				w.close(false)
			}
			continue
		case 6:
			if w.tags++; w.tags > MaxDepth+1 {
				return malformed("too many nested tags")
			}
			w.tagNum = val
			continue
		case 7:
			ai := c & 0x1f
			switch {
			case ai < 20:
				it.kind = iSimple
			case ai == 20 || ai == 21:
				it.kind = iBool
			case ai == 22 || ai == 23:
				it.kind = iNil
			case ai == 24:
				if val < 32 {
					return malformed("simple value below 32 in two bytes")
				}
				it.kind = iSimple
			default: // 25, 26, 27: floats
				it.kind, it.f32 = iFloat, ai < 27
			}
		}
		w.pos = pos
		w.value(&it)
	}
}
