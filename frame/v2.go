package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sizes of the version 2 headers, in bytes.
const (
	RequestHeaderSizeV2  = 40
	ResponseHeaderSizeV2 = 32
)

// Kind tells a version 2 frame from the slave what it is.
type Kind uint8

// Kinds of frames a slave sends in version 2.
const (
	// KindRequest starts a call: metadata and payload follow the header.
	KindRequest Kind = 0
	// KindCancel asks the master to cancel the call with the header's ID.
	// It has no metadata and no payload, and every other field is 0.
	KindCancel Kind = 1
)

// Limits on a call's metadata, checked by senders and receivers alike
// before anything is allocated.
const (
	// MaxMetadataSize bounds the encoded metadata block of one frame.
	MaxMetadataSize = 16 << 10
	// MaxMetadataPairs bounds the number of pairs in one block.
	MaxMetadataPairs = 64
	// MaxMetadataKey bounds the length of a key.
	MaxMetadataKey = 255
)

// ErrMetadata means a metadata block or pair breaks the rules in the
// package doc (key syntax, lengths, limits).
var ErrMetadata = errors.New("fastrpc: frame: malformed metadata")

// Negotiate returns the version a master speaking up to max uses with a
// slave whose preface is p: the lower of max and the version the slave
// offered. A slave offers its highest version in the status field of a
// preface whose version field is 1; version 1 slaves send 0 there, which
// means 1.
func Negotiate(p Preface, max uint16) uint16 {
	offered := max16(uint16(p.Status), Version1)
	return min(offered, max)
}

func max16(a, b uint16) uint16 {
	if a > b {
		return a
	}
	return b
}

// SlavePreface is the preface a slave that speaks up to version max sends.
func SlavePreface(max uint16) Preface {
	return Preface{Version: Version1, Status: HandshakeStatus(max)}
}

// PutRequestHeaderV2 encodes h into b[:RequestHeaderSizeV2]. It panics if b
// is shorter. A cancel frame (Kind KindCancel) encodes only its ID.
func PutRequestHeaderV2(b []byte, h RequestHeader) {
	_ = b[RequestHeaderSizeV2-1]
	if h.Kind == KindCancel {
		h = RequestHeader{Kind: KindCancel, ID: h.ID}
	}
	binary.BigEndian.PutUint64(b[0:], h.Method)
	binary.BigEndian.PutUint64(b[8:], h.Length)
	binary.BigEndian.PutUint64(b[16:], encodeTimeout(h.Timeout))
	binary.BigEndian.PutUint64(b[24:], h.ID)
	b[32], b[33], b[34], b[35] = byte(h.Kind), 0, 0, 0
	binary.BigEndian.PutUint32(b[36:], h.Metadata)
}

// ParseRequestHeaderV2 decodes a version 2 request or cancel header.
// Flags (bytes 33 to 35), an unknown kind, or a cancel frame with any
// field but its ID set give [ErrReserved]; a metadata length over
// [MaxMetadataSize] gives [ErrMetadata]. A timeout beyond the range of
// time.Duration is clamped to its maximum.
func ParseRequestHeaderV2(b []byte) (RequestHeader, error) {
	if len(b) < RequestHeaderSizeV2 {
		return RequestHeader{}, ErrShort
	}
	t := binary.BigEndian.Uint64(b[16:])
	h := RequestHeader{
		Method:   binary.BigEndian.Uint64(b[0:]),
		Length:   binary.BigEndian.Uint64(b[8:]),
		Timeout:  time.Duration(min(t, uint64(maxDuration))),
		ID:       binary.BigEndian.Uint64(b[24:]),
		Kind:     Kind(b[32]),
		Metadata: binary.BigEndian.Uint32(b[36:]),
	}
	if b[33]|b[34]|b[35] != 0 || h.Kind > KindCancel {
		return h, ErrReserved
	}
	if h.Kind == KindCancel && h.Method|h.Length|t|uint64(h.Metadata) != 0 {
		return h, ErrReserved
	}
	if h.Metadata > MaxMetadataSize {
		return h, fmt.Errorf("%w: a block of %d bytes, the limit is %d", ErrMetadata, h.Metadata, MaxMetadataSize)
	}
	return h, nil
}

// PutResponseHeaderV2 encodes h into b[:ResponseHeaderSizeV2]. It panics if
// b is shorter.
func PutResponseHeaderV2(b []byte, h ResponseHeader) {
	_ = b[ResponseHeaderSizeV2-1]
	PutResponseHeader(b, h)
	binary.BigEndian.PutUint64(b[16:], h.ID)
	binary.BigEndian.PutUint32(b[24:], h.Metadata)
	binary.BigEndian.PutUint32(b[28:], 0)
}

// ParseResponseHeaderV2 decodes a version 2 response header. Reserved bits
// set give [ErrReserved]; a metadata length over [MaxMetadataSize] gives
// [ErrMetadata].
func ParseResponseHeaderV2(b []byte) (ResponseHeader, error) {
	if len(b) < ResponseHeaderSizeV2 {
		return ResponseHeader{}, ErrShort
	}
	h, err := ParseResponseHeader(b[:ResponseHeaderSize])
	h.ID = binary.BigEndian.Uint64(b[16:])
	h.Metadata = binary.BigEndian.Uint32(b[24:])
	if err != nil {
		return h, err
	}
	if binary.BigEndian.Uint32(b[28:]) != 0 {
		return h, ErrReserved
	}
	if h.Metadata > MaxMetadataSize {
		return h, fmt.Errorf("%w: a block of %d bytes, the limit is %d", ErrMetadata, h.Metadata, MaxMetadataSize)
	}
	return h, nil
}

// CheckMetadataKey reports whether key may be sent: 1 to [MaxMetadataKey]
// bytes of lower-case ASCII letters, digits, '-', '_' and '.'.
func CheckMetadataKey(key string) error {
	if len(key) == 0 || len(key) > MaxMetadataKey {
		return fmt.Errorf("%w: a key of %d bytes; keys are 1 to %d bytes", ErrMetadata, len(key), MaxMetadataKey)
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return fmt.Errorf("%w: key %q has byte %q; keys are lower-case letters, digits, '-', '_' and '.'", ErrMetadata, key, key[i])
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// MetadataPairSize is how many bytes the pair key, value takes in a block.
func MetadataPairSize(key, value string) int { return 1 + len(key) + 2 + len(value) }

// AppendMetadataPair appends one encoded pair to a metadata block. The
// caller checks the key ([CheckMetadataKey]) and the block's limits
// ([MaxMetadataSize], [MaxMetadataPairs]) first; a value longer than the
// block limit cannot be encoded and panics.
func AppendMetadataPair(b []byte, key, value string) []byte {
	if len(key) > MaxMetadataKey || len(value) > MaxMetadataSize {
		panic("fastrpc: frame: metadata pair over the limits")
	}
	b = append(b, byte(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

// ParseMetadata checks a metadata block and calls fn, if not nil, with
// each pair in order; the slices alias b. It returns the number of pairs.
// Every length is checked against the bytes present, keys against
// [CheckMetadataKey]'s rules, and the pair count against
// [MaxMetadataPairs], before fn sees anything: a malformed block calls fn
// never, so a receiver can count pairs first and allocate exactly.
func ParseMetadata(b []byte, fn func(key, value []byte)) (int, error) {
	if len(b) > MaxMetadataSize {
		return 0, fmt.Errorf("%w: a block of %d bytes, the limit is %d", ErrMetadata, len(b), MaxMetadataSize)
	}
	n := 0
	for rest := b; len(rest) > 0; n++ {
		if n == MaxMetadataPairs {
			return 0, fmt.Errorf("%w: more than %d pairs", ErrMetadata, MaxMetadataPairs)
		}
		k := int(rest[0])
		if k == 0 || len(rest) < 1+k+2 {
			return 0, fmt.Errorf("%w: pair %d truncated or with an empty key", ErrMetadata, n)
		}
		for _, c := range rest[1 : 1+k] {
			if !keyByte(c) {
				return 0, fmt.Errorf("%w: pair %d's key has byte %q", ErrMetadata, n, c)
			}
		}
		v := int(binary.BigEndian.Uint16(rest[1+k:]))
		if len(rest) < 1+k+2+v {
			return 0, fmt.Errorf("%w: pair %d's value of %d bytes truncated", ErrMetadata, n, v)
		}
		rest = rest[1+k+2+v:]
	}
	if fn != nil {
		for rest := b; len(rest) > 0; {
			k := int(rest[0])
			v := int(binary.BigEndian.Uint16(rest[1+k:]))
			fn(rest[1:1+k], rest[1+k+2:1+k+2+v])
			rest = rest[1+k+2+v:]
		}
	}
	return n, nil
}

// Features a master lists in its version 2 capabilities body.
const (
	// FeatureMetadata: requests and responses may carry metadata.
	FeatureMetadata = "metadata"
	// FeatureCancel: the master cancels a handler on a cancel frame.
	FeatureCancel = "cancel"
)

// IdempotentFeature names, in a features list, a method the master
// declares safe to run twice for one call: "idempotent." and the name.
func IdempotentFeature(method string) string { return idempotentPrefix + method }

const idempotentPrefix = "idempotent."

// Idempotent returns the methods c's features declare idempotent (see
// IdempotentFeature).
func (c Capabilities) Idempotent() []string {
	var names []string
	for _, f := range c.Features {
		if name, ok := strings.CutPrefix(f, idempotentPrefix); ok && name != "" {
			names = append(names, name)
		}
	}
	return names
}

// VersionFeature names protocol version v in a features list:
// "version.1", "version.2".
func VersionFeature(v uint16) string { return fmt.Sprintf("version.%d", v) }

// CapabilitiesEncodingV2 is the returning encoding of the capabilities
// method on a version 2 connection: the version 1 list followed by the
// master's features.
const CapabilitiesEncodingV2 = "fastrpc.capabilities.v2"

// Capabilities is what a master says of itself: its methods, and on a
// version 2 connection the protocol versions and features it speaks.
type Capabilities struct {
	Methods  []Capability
	Features []string
}

// Has reports whether feature is among c.Features.
func (c Capabilities) Has(feature string) bool {
	for _, f := range c.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// AppendCapabilitiesV2 appends the version 2 capabilities body: the
// version 1 body for caps, then count (16) and that many features, each
// length (16) and bytes.
func AppendCapabilitiesV2(b []byte, caps Capabilities) ([]byte, error) {
	if len(caps.Features) > 1<<16-1 {
		return b, fmt.Errorf("fastrpc: frame: %d features, the limit is %d", len(caps.Features), 1<<16-1)
	}
	for _, f := range caps.Features {
		if len(f) > MaxStringLen {
			return b, fmt.Errorf("fastrpc: frame: feature of %d bytes, the limit is %d", len(f), MaxStringLen)
		}
	}
	start := len(b)
	b, err := AppendCapabilities(b, caps.Methods)
	if err != nil {
		return b[:start], err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(caps.Features)))
	for _, f := range caps.Features {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

// ParseCapabilitiesV2 decodes a version 2 capabilities body, with the
// same bounds as [ParseCapabilities].
func ParseCapabilitiesV2(b []byte) (Capabilities, error) {
	methods, rest, err := parseCapabilityList(b)
	if err != nil {
		return Capabilities{}, err
	}
	if len(rest) < 2 {
		return Capabilities{}, fmt.Errorf("%w: features missing", ErrCapabilities)
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n > len(rest)/2 {
		return Capabilities{}, fmt.Errorf("%w: %d features claimed in %d bytes", ErrCapabilities, n, len(rest))
	}
	features := make([]string, 0, n)
	for i := range n {
		if len(rest) < 2 {
			return Capabilities{}, fmt.Errorf("%w: feature %d truncated", ErrCapabilities, i)
		}
		l := int(binary.BigEndian.Uint16(rest))
		if l > len(rest)-2 {
			return Capabilities{}, fmt.Errorf("%w: feature %d of %d bytes truncated", ErrCapabilities, i, l)
		}
		features = append(features, string(rest[2:2+l]))
		rest = rest[2+l:]
	}
	if len(rest) != 0 {
		return Capabilities{}, fmt.Errorf("%w: %d trailing bytes", ErrCapabilities, len(rest))
	}
	return Capabilities{Methods: methods, Features: features}, nil
}
