package codec

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
)

var (
	timeType              = reflect.TypeFor[time.Time]()
	bigIntType            = reflect.TypeFor[big.Int]()
	stringType            = reflect.TypeFor[string]()
	anyType               = reflect.TypeFor[any]()
	cborTagType           = reflect.TypeFor[cbor.Tag]()
	cborUnmarshalerType   = reflect.TypeFor[cbor.Unmarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	// The interfaces through which msgpack/v5 lets a type decode itself.
	msgpackDecoderTypes = []reflect.Type{
		reflect.TypeFor[msgpack.CustomDecoder](),
		reflect.TypeFor[msgpack.Unmarshaler](),
		binaryUnmarshalerType,
		reflect.TypeFor[encoding.TextUnmarshaler](),
	}
)

// item is one value of the payload as a tokenizer reads it.
type item struct {
	kind  ikind
	u     uint64 // integer (cbor negative: the encoded n of -1-n), float bits, ext type, container count
	l     uint64 // text, bytes and ext payload length
	b     []byte // text and bytes payload, when definite
	indef bool   // cbor: indefinite length
	bad   bool   // cbor: an indefinite text's chunks are not valid UTF-8
	f32   bool   // cbor: the float was encoded in 32 bits or fewer
}

type ikind uint8

const (
	iNil ikind = iota // msgpack nil, cbor null and undefined
	iBool
	iUint // msgpack: any non-negative integer
	iNint // msgpack: a negative integer (u holds its bits)
	iFloat
	iText
	iBytes
	iExt    // msgpack ext
	iSimple // cbor simple value
	iArray
	iMap
)

// Frame modes: what the values of an open container decode into.
const (
	mRoot      = iota // the payload's one value
	mSkip             // skipped: nothing is allocated
	mOpaque           // read by a type that decodes itself
	mElems            // slice or array elements
	mMap              // alternately keys and elements of a typed map
	mStruct           // alternately field names and field values
	mStructArr        // struct fields by position
	mAnyArr           // []any
	mAnyMap           // the map of an interface
)

type wframe struct {
	ti      *tinfo // the container's type
	next    *tinfo // mStruct: the field the last key named; mMap: the key type
	left    uint64 // values still to come (keys count); ^0 while indefinite
	seen    uint64 // values so far
	start   int    // mOpaque: offset of the container
	charged uint64 // mStruct: embedded pointers already charged
	mode    uint8
	skipVal bool  // the next element is skipped (its key was refused)
	indef   bool  // cbor: closed by a break, not by a count
	hint    int32 // mStruct: where in st.order the next key probably is
}

// weigher walks a payload alongside its target type and adds up what
// decoding it will allocate. It is pooled: its stack is too large for a
// goroutine's first stack frame.
type weigher struct {
	codec   int
	cost    uint64
	scratch uint64 // msgpack: the capacity the decoder's scratch buffer has reached
	pos     int    // the tokenizer's offset, for opaque spans
	start   int    // where the current value began (before its cbor tags)
	tags    int    // cbor: tags before the current value
	tagNum  uint64 // cbor: the innermost of them
	// cbor: what naming the struct field costs in an error about the
	// current value, when it is a field.
	fieldErr uint64
	depth    int
	stack    [MaxDepth + 3]wframe // the root, the containers, and an empty one beyond
}

var weighers = sync.Pool{New: func() any { return new(weigher) }}

// reset prepares a walk of a value of type ti.
func (w *weigher) reset(codec int, ti *tinfo) {
	w.codec, w.cost, w.scratch, w.pos, w.start, w.tags, w.tagNum, w.fieldErr = codec, 0, 0, 0, 0, 0, 0, 0
	w.depth = 1
	w.stack[0] = wframe{ti: ti, left: 1, mode: mRoot}
}

func (w *weigher) add(c uint64) { w.cost = sat(w.cost, c) }

// next returns the type the next value decodes into and counts the value
// in its container.
func (w *weigher) next() *tinfo {
	f := &w.stack[w.depth-1]
	f.left--
	i := f.seen
	f.seen++
	w.fieldErr = 0
	switch f.mode {
	case mRoot:
		return f.ti
	case mElems:
		if f.ti.kind == kArray || f.ti.kind == kByteArray {
			if i >= f.ti.n {
				return skipInfo
			}
		}
		return f.ti.elem
	case mMap:
		if i&1 == 0 {
			w.add(f.ti.perEntry)
			return f.next
		}
		if f.skipVal {
			f.skipVal = false
			return skipInfo
		}
		return f.ti.elem
	case mStruct:
		if i&1 == 0 {
			f.next = skipInfo // until the key names a field
			return fieldNameInfo
		}
		w.fieldErr = f.ti.st.fieldErr
		return f.next
	case mStructArr:
		if i < uint64(len(f.ti.st.fields)) {
			fl := &f.ti.st.fields[i]
			w.chargePath(f, fl.path)
			w.fieldErr = f.ti.st.fieldErr
			return fl.ti
		}
		return skipInfo
	case mAnyArr:
		return anyInfo[w.codec]
	case mAnyMap:
		if i&1 == 0 {
			if w.codec == cMsgpack {
				return stringInfo[cMsgpack] // DecodeMap reads string keys
			}
			return anyKeyInfo
		}
		if f.skipVal {
			f.skipVal = false
			return skipInfo
		}
		return anyInfo[w.codec]
	}
	return skipInfo // mSkip, mOpaque
}

// chargePath charges the embedded pointers on a field's path that this
// struct value has not allocated yet.
func (w *weigher) chargePath(f *wframe, path uint64) {
	if path&^f.charged != 0 {
		w.chargeEmbeds(f, path)
	}
}

func (w *weigher) chargeEmbeds(f *wframe, path uint64) {
	for p := path &^ f.charged; p != 0; p &= p - 1 {
		w.add(f.ti.st.embeds[bits.TrailingZeros64(p)])
	}
	f.charged |= path
}

// value charges a value that is not a container: next and leaf in one,
// with the fields of structs, the commonest case, first.
func (w *weigher) value(it *item) {
	f := &w.stack[w.depth-1]
	if f.mode == mStruct && w.tags == 0 {
		f.left--
		i := f.seen
		f.seen++
		if i&1 == 0 {
			f.next = skipInfo // until the key names a field
			w.fieldName(it, 0)
			return
		}
		w.fieldErr = f.ti.st.fieldErr
		w.leaf(f.next, it)
		return
	}
	w.leaf(w.next(), it)
}

// deref follows pointers to the type a non-nil value is decoded into,
// charging each pointer's allocation.
func (w *weigher) deref(ti *tinfo) *tinfo {
	for range maxPtrChain {
		if ti.kind != kPtr {
			return ti
		}
		w.add(ti.elem.newCost)
		ti = ti.elem
	}
	if ti.kind == kPtr {
		// type P *P: the library would allocate pointers forever.
		w.add(math.MaxUint64)
		return skipInfo
	}
	return ti
}

// push opens a container frame.
func (w *weigher) push(ti *tinfo, mode uint8, left uint64) {
	w.stack[w.depth] = wframe{ti: ti, left: left, mode: mode, start: w.start}
	w.depth++
}

// leaf charges a value that is not a container.
func (w *weigher) leaf(ti *tinfo, it *item) {
	tags := w.tags
	w.tags = 0
	switch ti.kind {
	case kSkip:
		return
	case kFieldName:
		w.fieldName(it, tags)
		return
	}
	if it.kind == iNil && tags == 0 && (ti.kind != kOpaque || w.codec == cMsgpack) {
		// Pointers, interfaces, slices and maps stay nil; cbor hands
		// even a null to an Unmarshaler.
		return
	}
	ti = w.deref(ti)
	if ti.kind == kOpaque || (ti.binUnm && it.kind == iBytes) {
		w.add(opaqueCost(uint64(w.pos - w.start)))
		return
	}
	if w.codec == cMsgpack {
		w.leafMsgpack(ti, it)
	} else {
		w.leafCBOR(ti, it, tags)
	}
}

// leafMsgpack follows msgpack/v5.4.1. Its first error ends decoding, so a
// value that does not fit its type costs nothing.
func (w *weigher) leafMsgpack(ti *tinfo, it *item) {
	switch ti.kind {
	case kAny:
		switch it.kind {
		case iUint, iNint:
			if it.u >= 256 { // smaller ones are boxed without allocating
				w.add(8)
			}
		case iFloat:
			w.add(8)
		case iText, iBytes: // both become strings (loose decoding)
			if it.l > 0 {
				w.scratchFor(it.l)
				w.add(allocSize(it.l) + 16)
			}
			if ti.bits == 1 {
				w.add(16) // errors.New
			}
		case iExt:
			// A registered ext type (time.Time by default) is
			// allocated, read through the scratch buffer and copied
			// into the interface.
			w.scratchFor(it.l)
			w.add(2*allocSize(it.l) + 64)
		}
	case kString:
		if it.kind == iText || it.kind == iBytes {
			w.scratchFor(it.l)
			w.add(allocSize(it.l))
		}
	case kBytes:
		if it.kind == iText || it.kind == iBytes {
			w.add(allocSize(it.l)) // read straight into a new slice
		}
	case kTime:
		if it.kind == iExt {
			w.scratchFor(it.l)
		}
	}
}

// scratchFor charges msgpack's scratch buffer, which grows (by append, or
// by 1 MiB at a time beyond 1 MiB) to the longest string read through it.
// Its capacity is assumed to reach only what was asked, so that the
// estimate charges at least every growth the decoder makes.
func (w *weigher) scratchFor(l uint64) {
	switch {
	case l <= w.scratch:
	case l > 1<<20:
		w.add(mul(l, 6))
		w.scratch = l
	case w.scratch == 0:
		w.scratch = max(l, 64)
		w.add(allocSize(w.scratch))
	default:
		w.add(allocSize(2 * l))
		w.scratch = l
	}
}

// leafCBOR follows fxamacker/cbor v2.10.0 with this package's DecOptions.
// It carries on after an error, so every value that does not fit its type
// costs an error value.
func (w *weigher) leafCBOR(ti *tinfo, it *item, tags int) {
	if tags > 0 && !validTagContent(w.tagNum, it.kind) {
		w.add(w.errFor(ti))
		return // the tag is refused and its content skipped
	}
	if tags > 0 && (w.tagNum == 2 || w.tagNum == 3) {
		// A bignum is made a big.Int whatever it decodes into.
		w.add(2*allocSize(it.l) + 64)
		switch ti.kind {
		case kAny, kAnyKey:
			w.add(mul(uint64(tags), 32) + 48) // boxed
		case kBytes:
			w.add(allocSize(it.l)) // copied
		case kByteArray, kBigInt:
		case kInt, kUint, kFloat:
			// If it overflows, an error quoting its digits.
			w.add(3*allocSize(it.l) + w.errFor(ti))
		default:
			w.add(w.errFor(ti))
		}
		return
	}
	switch ti.kind {
	case kAny, kAnyKey:
		w.add(mul(uint64(tags), 32)) // cbor.Tag values, boxed
		if tags > 0 && w.tagNum <= 1 {
			w.add(timeCost(it) + 32) // a time.Time, boxed
		}
		switch it.kind {
		case iUint:
			if it.u >= 256 { // smaller ones are boxed without allocating
				w.add(8)
			}
		case iNint:
			w.add(8)
			if it.u > math.MaxInt64 {
				w.add(160) // a big.Int
			}
		case iFloat:
			w.add(8)
		case iText:
			if it.l > 0 {
				w.add(allocSize(it.l) + 16 + w.indefCost(it))
			}
			if w.invalidText(it) {
				w.add(invalidTextCost)
			}
		case iBytes:
			w.add(allocSize(it.l) + 24 + w.indefCost(it))
			if ti.kind == kAnyKey { // a map key: converted to cbor.ByteString
				w.add(allocSize(it.l) + 16)
			}
		}
	case kIfaceNE:
		w.add(w.errFor(ti))
	case kString:
		if it.kind == iText {
			w.add(allocSize(it.l) + w.indefCost(it))
			if w.invalidText(it) {
				w.add(invalidTextCost)
			}
			return
		}
		w.add(w.errFor(ti))
	case kBytes:
		if it.kind == iBytes {
			w.add(allocSize(it.l) + w.indefCost(it))
			return
		}
		w.add(w.errFor(ti))
	case kByteArray:
		if it.kind == iBytes {
			w.add(w.indefCost(it))
			return
		}
		w.add(w.errFor(ti))
	case kInt, kUint, kFloat:
		if !fitsNumber(ti, it) {
			w.add(w.errFor(ti))
			if it.kind == iNint && it.u > math.MaxInt64 {
				w.add(96) // the big.Int its message is made from
			}
		}
	case kBool:
		if it.kind != iBool {
			w.add(w.errFor(ti))
		}
	case kTime:
		if tags > 0 && w.tagNum > 1 {
			w.add(w.errFor(ti)) // a tag other than 0 and 1
		}
		switch it.kind {
		case iUint:
		case iNint:
			if it.u > math.MaxInt64 {
				w.add(w.errFor(ti))
			}
		default:
			w.add(timeCost(it) + w.indefCost(it) + w.errFor(ti))
		}
	case kBigInt:
		w.add(4*allocSize(it.l) + 192)
	default: // containers, unsupported kinds
		w.add(w.errFor(ti))
	}
}

// errFor is what cbor allocates for an error about a value of type ti:
// an UnmarshalTypeError with its message and, in a struct, the field's
// name.
func (w *weigher) errFor(ti *tinfo) uint64 { return ti.errCost + w.fieldErr }

// validTagContent mirrors cbor's check of the built-in tags' content.
func validTagContent(tag uint64, k ikind) bool {
	switch tag {
	case 0:
		return k == iText
	case 1:
		return k == iUint || k == iNint || k == iFloat
	case 2, 3:
		return k == iBytes
	}
	return true
}

// timeCost bounds what cbor allocates to read a time.Time from text: the
// string, a fixed zone for the offset, or an error quoting the text.
func timeCost(it *item) uint64 {
	if it.kind == iText || it.kind == iBytes {
		return 3*allocSize(it.l) + 320
	}
	return 0
}

// indefCost is what assembling an indefinite-length string's chunks
// costs: a slice grown by append.
func (w *weigher) indefCost(it *item) uint64 {
	if !it.indef {
		return 0
	}
	return sat(mul(it.l, 5), 64)
}

// invalidText reports whether a text may not be UTF-8, which costs cbor
// an error. Only short ASCII texts are taken to be valid: the error is
// small beside a long one, and checking UTF-8 properly costs more than
// the error is worth.
func (w *weigher) invalidText(it *item) bool {
	if it.indef {
		return it.bad
	}
	if len(it.b) >= invalidTextCost {
		return true
	}
	for _, c := range it.b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// fitsNumber reports whether cbor stores the number without an error.
func fitsNumber(ti *tinfo, it *item) bool {
	switch ti.kind {
	case kInt:
		switch it.kind {
		case iUint, iSimple: // cbor stores simple values as integers
			return it.u <= uint64(1)<<(ti.bits-1)-1
		case iNint: // the value is -1-u
			return it.u <= uint64(1)<<(ti.bits-1)-1
		}
	case kUint:
		return (it.kind == iUint || it.kind == iSimple) && (ti.bits == 64 || it.u < uint64(1)<<ti.bits)
	case kFloat:
		switch it.kind {
		case iUint, iNint, iSimple:
			return true
		case iFloat:
			if ti.bits == 64 || it.f32 {
				return true
			}
			f := math.Abs(math.Float64frombits(it.u))
			return !(f > math.MaxFloat32 && f <= math.MaxFloat64)
		}
	}
	return false
}

// fieldName looks up the field that a struct key names.
func (w *weigher) fieldName(it *item, tags int) {
	f := &w.stack[w.depth-1]
	st := f.ti.st
	idx, ok := int32(-1), false
	switch {
	case w.codec == cMsgpack:
		switch it.kind {
		case iText, iBytes:
			w.scratchFor(it.l)
			idx, ok = st.find(it.b, f)
		case iNil:
			idx, ok = st.names[""]
		}
	case tags > 0:
		w.add(f.ti.errCost)
	case it.kind == iText:
		if it.indef {
			w.add(w.indefCost(it) + invalidTextCost)
			// The chunks are not at hand; any field may be meant.
			idx, ok = st.costliest(), len(st.fields) > 0
			break
		}
		if idx, ok = st.find(it.b, f); !ok {
			if idx, ok = st.fold(it.b); !ok {
				// Not a field; perhaps not UTF-8 either, which
				// costs an error.
				w.add(invalidTextCost)
			}
		}
	case it.kind == iUint || it.kind == iNint:
		if it.u <= math.MaxInt64 {
			n := int64(it.u)
			if it.kind == iNint {
				n = -1 - n
			}
			idx, ok = st.ints[n]
		} else {
			w.add(f.ti.errCost)
		}
	default:
		w.add(f.ti.errCost)
	}
	if ok {
		fl := &st.fields[idx]
		w.chargePath(f, fl.path)
		f.next = fl.ti
	}
}

// find returns the field a key names. Keys mostly come in declaration
// order, so the field after the last one found is tried first, which is
// quicker than hashing the key.
func (st *tstruct) find(key []byte, f *wframe) (int32, bool) {
	if h := int(f.hint); h < len(st.order) && st.order[h].name == string(key) {
		f.hint++
		return st.order[h].idx, true
	}
	i, ok := st.names[string(key)]
	if ok {
		f.hint = st.orderAt[i] + 1
	}
	return i, ok
}

// invalidTextCost is what cbor allocates for a text that is not UTF-8: a
// SemanticError.
const invalidTextCost = 32

// fold finds a field case-insensitively, as cbor does when no name
// matches exactly.
func (st *tstruct) fold(key []byte) (int32, bool) {
	if len(key) <= 64 && !st.unicode && isASCII(string(key)) {
		var buf [64]byte
		for i, c := range key {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		i, ok := st.folded[string(buf[:len(key)])]
		return i, ok
	}
	for i := range st.fields {
		for _, n := range st.fields[i].bnames {
			if bytes.EqualFold(key, n) {
				return int32(i), true
			}
		}
	}
	return -1, false
}

// costliest is the field whose type costs the most per element, for a key
// that cannot be read.
func (st *tstruct) costliest() int32 {
	best, cost := int32(0), uint64(0)
	for i := range st.fields {
		if c := st.fields[i].ti.size; c >= cost {
			best, cost = int32(i), c
		}
	}
	return best
}

// open charges a container and pushes its frame. count is its declared
// length, indef whether it is cbor indefinite.
func (w *weigher) open(ti *tinfo, it *item) {
	tags := w.tags
	w.tags = 0
	left := it.u
	if it.kind == iMap {
		left = mul(left, 2)
	}
	if it.indef {
		left = math.MaxUint64
	}
	parent := &w.stack[w.depth-1]
	switch ti.kind {
	case kSkip:
		w.push(skipInfo, mSkip, left)
		return
	case kFieldName:
		// A container as a struct key: an error; its value is skipped.
		if w.codec == cCBOR {
			w.add(parent.ti.errCost)
		}
		w.push(skipInfo, mSkip, left)
		return
	}
	ti = w.deref(ti)
	if ti.kind == kOpaque {
		w.push(ti, mOpaque, left)
		return
	}
	if w.codec == cCBOR && tags > 0 {
		if !validTagContent(w.tagNum, it.kind) {
			w.add(w.errFor(ti))
			w.push(skipInfo, mSkip, left)
			return
		}
		if ti.kind == kAny || ti.kind == kAnyKey {
			w.add(mul(uint64(tags), 32))
		}
	}
	mode, ok := uint8(mSkip), false
	switch ti.kind {
	case kAny, kAnyKey:
		mode, ok = mAnyArr, true
		if it.kind == iMap {
			mode = mAnyMap
		}
		if ti.kind == kAnyKey {
			// cbor builds the key, finds it cannot hash it, and
			// skips its value.
			w.add(w.errFor(ti))
			parent.skipVal = true
		}
	case kSlice, kStrings:
		mode, ok = mElems, it.kind == iArray
	case kBytes:
		// msgpack reads bytes only; cbor also takes an array of
		// integers.
		mode, ok = mElems, it.kind == iArray && w.codec == cCBOR
	case kArray, kByteArray:
		mode, ok = mElems, it.kind == iArray
		if w.codec == cMsgpack && (ti.kind == kByteArray || it.u > ti.n) {
			ok = false // an error before any element is read
		}
	case kMap:
		mode, ok = mMap, it.kind == iMap
	case kStruct:
		switch {
		case it.kind == iMap && !ti.st.toArray:
			mode, ok = mStruct, true
		case it.kind == iArray && (w.codec == cMsgpack || ti.st.toArray):
			mode, ok = mStructArr, true
		}
	}
	if !ok {
		if w.codec == cCBOR {
			w.add(w.errFor(ti))
		}
		w.push(skipInfo, mSkip, left)
		return
	}
	w.push(ti, mode, left)
	f := &w.stack[w.depth-1]
	switch mode {
	case mMap:
		f.next = ti.key
		if w.codec == cCBOR {
			if ti.key.kind == kAny {
				f.next = anyKeyInfo
			}
			w.add(ti.perMap)
		}
	case mStruct:
		if w.codec == cCBOR && len(ti.st.fields) > 128 {
			w.add(allocSize(uint64(len(ti.st.fields)))) // its found-fields bitmap
		}
	}
}

// close charges a container whose values have all been seen and pops its
// frame.
func (w *weigher) close(indef bool) {
	w.depth--
	f := &w.stack[w.depth]
	switch f.mode {
	case mElems:
		if k := f.ti.kind; k == kSlice || k == kStrings || k == kBytes {
			// The backing array, and the slice headers that reflect
			// allocates for the Values it returns.
			c := allocSize(mul(f.seen, f.ti.elem.size))
			h := uint64(24)
			if w.codec == cMsgpack {
				switch {
				case k == kSlice && f.seen > 0:
					// MakeSlice, then AppendSlice copies it.
					c, h = mul(c, 2), 3*24
				case f.seen > 1e6:
					// makeStrings stops at a million; append grows
					// the rest.
					c = mul(c, 6)
				}
			}
			w.add(sat(c, h))
		}
	case mMap:
		pairs := f.seen / 2
		switch {
		case w.codec == cCBOR && indef:
			w.add(f.ti.mapGrow(pairs))
		case w.codec == cCBOR || f.ti.mapForm == 2:
			w.add(f.ti.mapCost(pairs, pairs))
		default:
			// msgpack sizes the map for at most a million entries.
			w.add(f.ti.mapCost(min(pairs, 1e6), pairs))
			if pairs > 1e6 {
				w.add(f.ti.mapGrow(pairs))
			}
		}
	case mAnyArr:
		w.add(sat(allocSize(mul(f.seen, 16)), 24)) // []any, boxed
	case mAnyMap:
		pairs := f.seen / 2
		m := anyMapInfo[w.codec]
		if w.codec == cMsgpack {
			w.add(m.mapCost(pairs, pairs)) // make(map[string]any, n)
		} else {
			w.add(m.mapGrow(pairs)) // make(map[any]any), grown
		}
	case mOpaque:
		w.add(opaqueCost(uint64(w.pos - f.start)))
	}
}

// anyMapInfo describes the maps decoded into interfaces: map[string]any
// (msgpack) and map[any]any (cbor).
var anyMapInfo [nCodecs]*tinfo

func init() {
	anyMapInfo[cMsgpack] = infoFor(cMsgpack, reflect.TypeFor[map[string]any]())
	anyMapInfo[cCBOR] = infoFor(cCBOR, reflect.TypeFor[map[any]any]())
}

// targetInfo returns what v's target costs, as the libraries find it: the
// value v points to, or the pointer a non-nil interface there holds. nil
// when v is not a usable pointer (the library reports that).
func targetInfo(codec int, v any) (*tinfo, reflect.Type) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, nil
	}
	t := rv.Type().Elem()
	if t.Kind() == reflect.Interface {
		if e := rv.Elem(); !e.IsNil() && e.Elem().Kind() == reflect.Pointer && !e.Elem().IsNil() {
			t = e.Elem().Type().Elem()
		}
	}
	return infoFor(codec, t), rv.Type()
}

// errWeighPanic marks a panic of the walk itself: a bug in this package,
// reported as an error rather than taking the process down.
var errWeighPanic = errors.New("the codec's cost scan panicked (a bug in package codec)")

// walk weighs data with the tokenizer of w's codec.
func (w *weigher) walk(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errWeighPanic, r)
		}
	}()
	if w.codec == cMsgpack {
		return w.msgpack(data)
	}
	return w.cbor(data)
}

// refuse returns the error for a payload whose estimated cost is over the
// bound, or nil.
func (w *weigher) refuse(target reflect.Type, size int) error {
	if b := AllocBound(size); w.cost > b {
		return &costError{codec: codecNames[w.codec], target: target, cost: w.cost, size: size, bound: b}
	}
	return nil
}

func implementsAny(t reflect.Type, ifaces []reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, i := range ifaces {
		if t.Implements(i) || p.Implements(i) {
			return true
		}
	}
	return false
}

func containsType(ts []reflect.Type, t reflect.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// hasOption reports whether a tag's options (",a,b") include name.
func hasOption(opts, name string) bool {
	_, ok := optionValue(opts, name)
	return ok
}

// optionValue finds name or name:value among a tag's options.
func optionValue(opts, name string) (string, bool) {
	for _, o := range strings.Split(opts, ",") {
		if o == name {
			return "", true
		}
		if v, ok := strings.CutPrefix(o, name+":"); ok {
			return v, true
		}
	}
	return "", false
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
