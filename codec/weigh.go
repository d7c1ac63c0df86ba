package codec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
)

// Decoding costs what it weighs.
//
// A well-formed msgpack or cbor payload can be cheap on the wire and dear
// in memory: a one-byte empty map becomes a 240-byte struct in a slice,
// which msgpack/v5 allocates twice. So before the library decodes, the
// codec walks the payload alongside the Go type it decodes into (the
// weigher below) and adds up what decoding will allocate: slice backing
// arrays (twice for msgpack), maps sized as the library sizes them,
// pointers, interface boxes, strings, msgpack's scratch buffer, and for
// cbor the error values it builds for every element that does not fit
// while it carries on decoding. Each figure is an upper bound of what the
// library does in that case (see the per-codec rules in leafMsgpack,
// leafCBOR, open and close). A payload whose estimate exceeds AllocBound
// is refused before anything is allocated.
//
// What a type costs is worked out once per reflect.Type and codec and
// cached; the walk itself allocates nothing.

// The allocation bound: decoding n bytes may allocate at most
// AllocFactor*n + AllocOverhead bytes.
const (
	// AllocFactor is how many bytes decoding may allocate per byte
	// received. Ordinary data stays far below it (a slice of structs
	// costs 4 to 6 per byte, a []byte 1, map[string]any documents about
	// 15); a slice of small integers decoded by msgpack costs 16, because
	// the library copies every slice once more than it needs to.
	AllocFactor = 32
	// AllocOverhead is what decoding may allocate regardless of size:
	// pointers to large types, a map's first group, msgpack's scratch
	// buffer, error values.
	AllocOverhead = 64 << 10
)

// AllocBound is the most that Unmarshal with the msgpack and cbor codecs
// lets decoding n bytes allocate: AllocFactor*n + AllocOverhead. Payloads
// that would cost more are refused with an error matching ErrTooCostly.
func AllocBound(n int) uint64 {
	if n < 0 {
		n = 0
	}
	return AllocFactor*uint64(n) + AllocOverhead
}

// ErrTooCostly matches (with errors.Is) the error of a payload that the
// msgpack or cbor codec refused because decoding it into the requested Go
// type would allocate more than AllocBound(len(data)). Nothing of it was
// decoded. The sender can split the payload into smaller calls, or the
// receiver can decode into a type whose elements cost less.
var ErrTooCostly = errors.New("fastrpc: decoding would allocate more than the codec's bound")

// costError is the refusal: which codec and target, what decoding would
// have allocated, for how many bytes, against which bound.
type costError struct {
	codec  string
	target reflect.Type
	cost   uint64
	size   int
	bound  uint64
}

func (e *costError) Error() string {
	return fmt.Sprintf("fastrpc: %s: decoding into %v would allocate about %s for %d bytes received, "+
		"more than the codec's bound of %d bytes (%d per byte plus %d); the payload is refused: "+
		"send it in smaller parts, or decode into a type whose elements cost less",
		e.codec, e.target, costString(e.cost), e.size, e.bound, AllocFactor, AllocOverhead)
}

// Is makes the error match ErrTooCostly.
func (e *costError) Is(target error) bool { return target == ErrTooCostly }

func costString(c uint64) string {
	if c == math.MaxUint64 {
		return "more than 2^64 bytes"
	}
	return fmt.Sprintf("%d bytes", c)
}

// Which library's behaviour the weigher follows.
const (
	cMsgpack = iota
	cCBOR
	nCodecs
)

var codecNames = [nCodecs]string{nameMsgpack, nameCBOR}

// tkind is how a Go type decodes, as far as allocation is concerned.
type tkind uint8

const (
	kSkip        tkind = iota // skipped by the library: costs nothing
	kAny                      // an interface: the value is built from the data alone
	kIfaceNE                  // cbor: a nil non-empty interface, which it cannot fill
	kBool                     //
	kInt                      // bits is the width
	kUint                     //
	kFloat                    //
	kString                   //
	kBytes                    // a slice of a uint8 kind
	kByteArray                // an array of a uint8 kind
	kSlice                    //
	kStrings                  // msgpack: exactly []string, decoded on a path of its own
	kArray                    //
	kMap                      //
	kStruct                   //
	kPtr                      //
	kTime                     // time.Time
	kBigInt                   // cbor: math/big.Int
	kOpaque                   // decodes itself (an unmarshaler): charged by the bytes it reads
	kUnsupported              // chan, func, complex...: an error
	kFieldName                // pseudo type: the key of a map decoded into a struct
	kAnyKey                   // pseudo type, cbor: a key of a map with interface keys
)

// tinfo is what one Go type costs to decode with one codec.
type tinfo struct {
	kind   tkind
	bits   uint8 // kInt, kUint, kFloat: the width
	binUnm bool  // cbor: *T is an encoding.BinaryUnmarshaler, used for byte strings
	// msgpack maps: 1 map[string]string, 2 map[string]any (paths of
	// their own, without the per-entry reflect.New).
	mapForm uint8

	size    uint64 // reflect.Type.Size
	newCost uint64 // what new(T) allocates
	errCost uint64 // cbor: what an error about this type allocates
	n       uint64 // kArray, kByteArray: the length

	elem *tinfo // slice, array and map elements, pointer target
	key  *tinfo // map keys

	// Maps.
	group    uint64 // bytes of one group of 8 slots
	perEntry uint64 // allocated for every entry decoded
	perMap   uint64 // allocated once per map decoded

	st *tstruct

	// amp bounds what the weigher charges for any one item of a value
	// of this type, besides what it charges per byte (perByteMax): see
	// cheap.
	amp uint64
}

// tstruct is how a struct's fields are found: by name (and for cbor by
// integer key, or case-insensitively) or by position.
type tstruct struct {
	fields   []tfield         // in declaration order, embedded structs expanded
	names    map[string]int32 // field by name
	order    []fieldName      // the fields' own names, in declaration order
	orderAt  []int32          // where each field is in order, or -1
	folded   map[string]int32 // cbor: field by lower-case ASCII name
	ints     map[int64]int32  // cbor: field by keyasint key
	unicode  bool             // cbor: some name is not ASCII: fold by a scan
	toArray  bool             // cbor: the struct is an array ("toarray")
	fieldErr uint64           // cbor: what "Type.field" costs in an error
	embeds   []uint64         // what allocating each embedded pointer costs
}

type fieldName struct {
	name string
	idx  int32
}

type tfield struct {
	ti     *tinfo
	names  []string // every name that may select the field
	bnames [][]byte // the same, for comparing with keys as they arrive
	path   uint64   // embedded pointers allocated to reach it (bit i: embeds[i])
}

// Pseudo types shared by all walks.
var (
	skipInfo      = &tinfo{kind: kSkip}
	fieldNameInfo = &tinfo{kind: kFieldName}
	anyKeyInfo    = &tinfo{kind: kAnyKey, errCost: errCostBase}
	anyInfo       [nCodecs]*tinfo
	stringInfo    [nCodecs]*tinfo
)

func init() {
	for c := range nCodecs {
		anyInfo[c] = infoFor(c, reflect.TypeFor[any]())
		stringInfo[c] = infoFor(c, reflect.TypeFor[string]())
	}
}

// errCostBase bounds what cbor allocates for one error: an
// UnmarshalTypeError and the strings of its message.
const errCostBase = 192

var (
	tinfoMu    sync.Mutex
	tinfoCache [nCodecs]sync.Map // reflect.Type -> *tinfo
)

// infoFor returns what t costs to decode with codec c, building and caching
// it (with every type it reaches) the first time.
func infoFor(c int, t reflect.Type) *tinfo {
	if v, ok := tinfoCache[c].Load(t); ok {
		return v.(*tinfo)
	}
	tinfoMu.Lock()
	defer tinfoMu.Unlock()
	b := builder{codec: c, pending: make(map[reflect.Type]*tinfo)}
	ti := b.build(t)
	for _, ti := range b.pending {
		ti.amp = b.amp(ti)
	}
	// Published only when complete: a recursive type's info points into
	// itself, and a reader must never see it half built.
	for t, ti := range b.pending {
		tinfoCache[c].Store(t, ti)
	}
	return ti
}

// What the weigher charges besides its per-item costs: at most perByteMax
// per byte of strings, opaque spans and the like, and fixedMax once (the
// first scratch buffer).
const (
	perByteMax = 8
	fixedMax   = 1024
)

// cheap reports whether no payload of n bytes can cost more than
// AllocBound(n) decoded into ti: the weigher charges at most ti.amp per
// item, an item takes at least a byte, and the rest is per byte. Such
// payloads are not weighed.
func (ti *tinfo) cheap(n int) bool {
	per := sat(ti.amp, perByteMax)
	if per <= AllocFactor {
		return true
	}
	return mul(uint64(n), per-AllocFactor) <= AllocOverhead-fixedMax
}

// anyMapGroup is a group of map[string]any or map[any]any: 8 slots of 32
// bytes and their control word.
const anyMapGroup = 8 + 8*32

// maxPtrChain bounds the pointers followed to a value: a type such as
// type P *P never reaches one.
const maxPtrChain = 32

// amp works out ti.amp: the most the weigher charges for one item
// anywhere in a value of type ti, as the item's own cost plus the share of
// its container's cost the item brings (a slice element brings its slot
// in the backing array, a map key its slot in the table). It mirrors the
// charges of leafMsgpack, leafCBOR, open and close, rounding up.
func (b *builder) amp(root *tinfo) uint64 {
	var worst uint64
	seen := make(map[*tinfo]bool)
	var visit func(x *tinfo, share uint64)
	visit = func(x *tinfo, share uint64) {
		// The pointers on the way are the item's too.
		for range maxPtrChain {
			if x.kind != kPtr {
				break
			}
			share = sat(share, x.elem.newCost)
			x = x.elem
		}
		if x.kind == kPtr {
			worst = math.MaxUint64
			return
		}
		worst = max(worst, sat(share, b.own(x)))
		if seen[x] {
			return
		}
		seen[x] = true
		switch x.kind {
		case kAny:
			// Its arrays' elements and maps' values are interfaces
			// too (any's info may be the one being built); a map key
			// brings its slot in the table, grown.
			a := anyInfo[b.codec]
			if a == nil {
				a = x
			}
			visit(a, 20) // a []any slot
			if b.codec == cMsgpack {
				worst = max(worst, 2*anyMapGroup+160) // a string key
			} else {
				worst = max(worst, 2*anyMapGroup+b.own(x)+errCostBase+64) // any key, maybe refused
			}
		case kSlice, kStrings, kBytes:
			copies := uint64(1)
			if b.codec == cMsgpack {
				switch x.kind {
				case kSlice:
					copies = 2
				case kStrings:
					copies = 6
				}
			}
			visit(x.elem, mul(copies, x.elem.size+x.elem.size/4))
		case kArray, kByteArray:
			visit(x.elem, 0)
		case kMap:
			visit(x.key, sat(x.perEntry, x.group+x.group/4))
			visit(x.elem, 0)
		case kStruct:
			var embeds uint64
			for _, e := range x.st.embeds {
				embeds = sat(embeds, e)
			}
			// A key: the embedded pointers it reaches, and for cbor
			// an error or a SemanticError.
			key := sat(embeds, 32) // msgpack: the scratch buffer's rounding
			if b.codec == cCBOR {
				key = sat(embeds, x.errCost+invalidTextCost)
			}
			worst = max(worst, key)
			for _, f := range x.st.fields {
				// By position, the same pointers; and an error names
				// the field.
				share := embeds
				if b.codec == cCBOR {
					share = sat(share, x.st.fieldErr)
				}
				visit(f.ti, share)
			}
		}
	}
	visit(root, 0)
	return worst
}

// own is the most the weigher charges for one item decoded into x (no
// pointer), besides per byte and its share of the container.
func (b *builder) own(x *tinfo) uint64 {
	var e uint64 // cbor: an error for a value that does not fit
	if b.codec == cCBOR {
		e = x.errCost
	}
	switch x.kind {
	case kSkip:
		return 0
	case kAny:
		// The costliest: an interface's map (a group, and for cbor
		// growth), or a cbor time or bignum, boxed.
		if b.codec == cMsgpack {
			return 512
		}
		return 1024
	case kSlice, kStrings, kBytes:
		// Slice headers, and the rounding of up to six copies (msgpack
		// []string), or a bignum.
		return 3*24 + 6*16 + e
	case kMap:
		return 48 + allocSize(x.group) + 512 + x.perMap + e
	case kStruct:
		if b.codec == cCBOR && len(x.st.fields) > 128 {
			return e + allocSize(uint64(len(x.st.fields)))
		}
		return e
	case kTime:
		return e + 448 // a fixed zone, the strings' rounding
	case kBigInt:
		return e + 256
	case kOpaque:
		return 192
	}
	if x.binUnm {
		return max(e+160, 192) // byte strings go to UnmarshalBinary
	}
	if b.codec == cMsgpack {
		return 32 // a string's rounding, and its scratch buffer's
	}
	return e + 160 // scalars and strings: an error, or a bignum made to fit
}

type builder struct {
	codec   int
	pending map[reflect.Type]*tinfo
}

func (b *builder) build(t reflect.Type) *tinfo {
	if v, ok := tinfoCache[b.codec].Load(t); ok {
		return v.(*tinfo)
	}
	if ti := b.pending[t]; ti != nil {
		return ti
	}
	ti := &tinfo{size: uint64(t.Size())}
	b.pending[t] = ti
	ti.newCost = allocSize(ti.size)
	ti.errCost = errCostBase + 3*uint64(len(t.String()))
	b.fill(ti, t)
	return ti
}

func (b *builder) fill(ti *tinfo, t reflect.Type) {
	k := t.Kind()
	if b.codec == cCBOR && k != reflect.Pointer {
		ti.binUnm = reflect.PointerTo(t).Implements(binaryUnmarshalerType)
	}
	switch {
	case k == reflect.Interface:
		ti.kind = kAny
		if t.NumMethod() > 0 {
			switch b.codec {
			case cCBOR:
				ti.kind = kIfaceNE
			case cMsgpack:
				ti.bits = 1 // a string is stored as errors.New(s)
			}
		}
		return
	case k == reflect.Pointer:
		ti.kind = kPtr
		ti.elem = b.build(t.Elem())
		return
	case t == timeType:
		ti.kind = kTime
		return
	case b.codec == cMsgpack && implementsAny(t, msgpackDecoderTypes):
		ti.kind = kOpaque
		return
	case b.codec == cCBOR && t == cborTagType:
		// A cbor.Tag's content decodes as any.
		ti.kind = kAny
		return
	case b.codec == cCBOR && t == bigIntType:
		ti.kind = kBigInt
		return
	case b.codec == cCBOR && reflect.PointerTo(t).Implements(cborUnmarshalerType):
		ti.kind = kOpaque
		return
	}
	switch k {
	case reflect.Bool:
		ti.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		ti.kind, ti.bits = kInt, uint8(t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		ti.kind, ti.bits = kUint, uint8(t.Bits())
	case reflect.Float32, reflect.Float64:
		ti.kind, ti.bits = kFloat, uint8(t.Bits())
	case reflect.String:
		ti.kind = kString
	case reflect.Slice:
		ti.elem = b.build(t.Elem())
		switch {
		case t.Elem().Kind() == reflect.Uint8:
			ti.kind = kBytes
		case b.codec == cMsgpack && t.Elem() == stringType:
			ti.kind = kStrings
		default:
			ti.kind = kSlice
		}
	case reflect.Array:
		ti.elem = b.build(t.Elem())
		ti.n = uint64(t.Len())
		ti.kind = kArray
		if t.Elem().Kind() == reflect.Uint8 {
			ti.kind = kByteArray
		}
	case reflect.Map:
		b.fillMap(ti, t)
	case reflect.Struct:
		ti.kind = kStruct
		ti.st = b.structOf(t)
	default:
		ti.kind = kUnsupported
	}
}

// fillMap works out what Go's maps (swiss tables) and each library
// allocate per map and per entry.
func (b *builder) fillMap(ti *tinfo, t reflect.Type) {
	ti.kind = kMap
	ti.key, ti.elem = b.build(t.Key()), b.build(t.Elem())
	ks, es := ti.key.size, ti.elem.size
	// Keys and elements above 128 bytes are stored behind a pointer,
	// allocated when an entry is inserted.
	var indirect uint64
	if ks > 128 {
		ks, indirect = 8, indirect+ti.key.newCost
	}
	if es > 128 {
		es, indirect = 8, indirect+ti.elem.newCost
	}
	if es == 0 && ks > 0 {
		es = 8 // a zero-size field at a struct's end is padded
	}
	slot := (ks+7)&^7 + (es+7)&^7
	ti.group = 8 + 8*slot
	ti.perEntry = indirect
	switch b.codec {
	case cMsgpack:
		switch {
		case t.Key() == stringType && t.Elem() == stringType:
			ti.mapForm = 1
		case t.Key() == stringType && t.Elem() == anyType:
			ti.mapForm = 2
		default:
			// reflect.New for the key and the element of every entry.
			ti.perEntry += ti.key.newCost + ti.elem.newCost
		}
	case cCBOR:
		// One key and one element value, reused for every entry.
		ti.perMap = ti.key.newCost + ti.elem.newCost
	}
}

// structOf finds a struct's fields as the codec's library would, erring
// on the generous side: a field answers to its tag name (the codec's own
// tag, else json), its Go name and, for msgpack, its aliases; fields of
// embedded structs are promoted. A key that selects a field the library
// would skip only makes the estimate higher.
func (b *builder) structOf(t reflect.Type) *tstruct {
	st := &tstruct{names: make(map[string]int32)}
	if b.codec == cCBOR {
		if f, ok := t.FieldByName("_"); ok {
			tag := f.Tag.Get("cbor")
			st.toArray = hasOption(tag, "toarray") || hasOption(tag, "toindefarray")
		}
	}
	depths := b.collect(st, t, 0, nil, nil)
	// Shallower fields win a name, as in both libraries; among equals,
	// the first declared.
	for pass := range 2 {
		for d := 0; d <= maxEmbedDepth; d++ {
			for i, f := range st.fields {
				if depths[i] != d {
					continue
				}
				names := f.names[:1]
				if pass == 1 {
					names = f.names[1:]
				}
				for _, n := range names {
					if _, ok := st.names[n]; !ok {
						st.names[n] = int32(i)
					}
				}
			}
		}
	}
	longest := 0
	for _, f := range st.fields {
		for _, n := range f.names {
			longest = max(longest, len(n))
		}
	}
	st.fieldErr = allocSize(uint64(len(t.String()) + 1 + longest))
	st.orderAt = make([]int32, len(st.fields))
	for i, f := range st.fields {
		st.orderAt[i] = -1
		if st.names[f.names[0]] == int32(i) {
			st.orderAt[i] = int32(len(st.order))
			st.order = append(st.order, fieldName{f.names[0], int32(i)})
		}
	}
	if b.codec == cCBOR {
		st.folded = make(map[string]int32, len(st.names))
		for n, i := range st.names {
			if !isASCII(n) {
				st.unicode = true
				continue
			}
			l := strings.ToLower(n)
			if j, ok := st.folded[l]; !ok || i < j {
				st.folded[l] = i
			}
		}
	}
	return st
}

const maxEmbedDepth = 8

// collect appends t's fields to st, expanding embedded structs, and
// returns each field's embedding depth.
func (b *builder) collect(st *tstruct, t reflect.Type, path uint64, seen []reflect.Type, depths []int) []int {
	seen = append(seen, t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts := b.tagOf(f)
		if name == "-" && opts == "" {
			continue
		}
		if f.Name == "_" || f.Name == "_msgpack" {
			continue
		}
		if f.Anonymous && !hasOption(opts, "noinline") {
			et, ptr := f.Type, false
			if et.Kind() == reflect.Pointer {
				et, ptr = et.Elem(), true
			}
			if et.Kind() == reflect.Struct && !b.decodesItself(et) && len(seen) <= maxEmbedDepth && !containsType(seen, et) {
				// The embedded struct itself answers to its name
				// (msgpack maps it), and its fields are promoted.
				if f.IsExported() || b.codec == cMsgpack {
					b.addField(st, f, name, opts, path, len(seen)-1, &depths)
				}
				p := path
				if ptr {
					if id := len(st.embeds); id < 64 {
						st.embeds = append(st.embeds, allocSize(uint64(et.Size())))
						p |= 1 << id
					}
				}
				depths = b.collect(st, et, p, seen, depths)
				continue
			}
		}
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		b.addField(st, f, name, opts, path, len(seen)-1, &depths)
	}
	return depths
}

func (b *builder) addField(st *tstruct, f reflect.StructField, name, opts string, path uint64, depth int, depths *[]int) {
	primary := name
	if primary == "" {
		primary = f.Name
	}
	tf := tfield{ti: b.build(f.Type), names: []string{primary, f.Name}, path: path}
	if b.codec == cMsgpack {
		if alias, ok := optionValue(opts, "alias"); ok {
			tf.names = append(tf.names, alias)
		}
	}
	for _, n := range tf.names {
		tf.bnames = append(tf.bnames, []byte(n))
	}
	idx := int32(len(st.fields))
	if b.codec == cCBOR && hasOption(opts, "keyasint") {
		if n, ok := parseInt(name); ok {
			if st.ints == nil {
				st.ints = make(map[int64]int32)
			}
			if _, dup := st.ints[n]; !dup {
				st.ints[n] = idx
			}
		}
	}
	st.fields = append(st.fields, tf)
	*depths = append(*depths, depth)
}

// tagOf returns a field's tag name and options: the codec's own tag,
// else json.
func (b *builder) tagOf(f reflect.StructField) (name, opts string) {
	tag := f.Tag.Get(codecNames[b.codec])
	if tag == "" {
		tag = f.Tag.Get("json")
	}
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			return tag[:i], tag[i:]
		}
	}
	return tag, ""
}

// decodesItself reports whether values of t decode through their own
// methods rather than field by field.
func (b *builder) decodesItself(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	if b.codec == cMsgpack {
		return implementsAny(t, msgpackDecoderTypes)
	}
	return t == cborTagType || t == bigIntType || reflect.PointerTo(t).Implements(cborUnmarshalerType)
}

// mapCost is what a map allocates for hint entries when entries are
// inserted: the map header, and the groups of its tables (or its single
// group while small), as Go's swiss tables size them.
func (ti *tinfo) mapCost(hint, entries uint64) uint64 {
	const header = 48
	if hint <= 8 {
		if entries == 0 {
			return header
		}
		return header + allocSize(ti.group)
	}
	if hint > 1<<40 {
		return math.MaxUint64
	}
	slots := nextPow2((hint*8 + 6) / 7)
	tables := (slots + 1023) / 1024
	per := min(slots, 1024)
	return header + tables*(allocSize(per/8*ti.group)+64) + allocSize(8*tables)
}

// mapGrow is what a map allocates growing to entries without a hint:
// every table it outgrew, about as much again as the final one.
func (ti *tinfo) mapGrow(entries uint64) uint64 {
	if entries <= 8 {
		return ti.mapCost(entries, entries)
	}
	return sat(mul(ti.mapCost(entries, entries), 9)/4, 512)
}

// opaqueCost is what a type that decodes itself is charged for span bytes:
// the copies the library makes for it. What its own method allocates
// beyond that is its own affair.
func opaqueCost(span uint64) uint64 {
	if span > 1<<20 {
		return sat(mul(span, 6), 128)
	}
	return 3*allocSize(span) + 128
}

// sizeClasses are the Go runtime's allocation size classes (Go 1.26).
var sizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocSize is what allocating n bytes costs: n rounded up to its size
// class (with the malloc header of larger objects), or to whole pages.
func allocSize(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	if n < 16 {
		// Small objects without pointers come from 16-byte blocks that
		// the runtime fills as it can: at worst one each.
		return 16
	}
	if n > 512 {
		n += 8 // a malloc header, for objects with pointers
	}
	if n > 32768 {
		if n > math.MaxUint64-8192 {
			return math.MaxUint64
		}
		return (n + 8191) &^ 8191
	}
	if n <= 1024 {
		return uint64(classBy8[(n+7)>>3])
	}
	return uint64(classBy128[(n-1024+127)>>7])
}

// classBy8 and classBy128 map sizes, in steps of 8 up to 1024 and of 128
// beyond, to their size class, as the runtime's own tables do. (Variables,
// not an init function: the infos built in init need them.)
var classBy8, classBy128 = classTables()

func classTables() (by8 [1024/8 + 1]uint16, by128 [(32768-1024)/128 + 1]uint16) {
	class := func(n uint64) uint16 {
		for _, c := range sizeClasses {
			if uint64(c) >= n {
				return c
			}
		}
		panic("codec: no size class")
	}
	for i := range by8 {
		by8[i] = class(uint64(i) * 8)
	}
	for i := range by128 {
		by128[i] = class(1024 + uint64(i)*128)
	}
	return by8, by128
}

func nextPow2(n uint64) uint64 {
	p := uint64(1)
	for p < n {
		p <<= 1
	}
	return p
}

// sat adds without overflowing.
func sat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// mul multiplies without overflowing.
func mul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}
