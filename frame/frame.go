package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Protocol versions. This package encodes and accepts both.
const (
	Version1 uint16 = 1
	Version2 uint16 = 2
	// MaxVersion is the highest version this package speaks.
	MaxVersion = Version2
)

// Sizes of the fixed-width frames, in bytes.
const (
	PrefaceSize        = 8
	RequestHeaderSize  = 32
	ResponseHeaderSize = 16
)

// Limits a receiver applies regardless of its settings.
const (
	// MaxErrorMessage bounds the payload of a response whose status is not
	// [StatusOK]. Senders truncate longer messages.
	MaxErrorMessage = 64 << 10
	// MaxStringLen bounds each string of the capabilities body.
	MaxStringLen = 1<<16 - 1
)

// DefaultMaxPayload is the default bound, on both sides, on a payload held
// in memory: the master's request size and the slave's request and
// response sizes. Both can be changed, per master, per method and per
// slave; one default keeps an unconfigured pair in agreement.
const DefaultMaxPayload = 64 << 20

// CapabilitiesName is the name of the built-in method with ID 0.
const CapabilitiesName = "capabilities"

// CapabilitiesEncoding is the returning encoding the capabilities method
// advertises for itself: the binary list described in the package doc.
const CapabilitiesEncoding = "fastrpc.capabilities.v1"

var magic = [4]byte{'F', 'R', 'P', 'C'}

// Errors returned by the decoders. They describe malformed input; a
// connection that produced one is not usable any further.
var (
	// ErrShort means the buffer is smaller than the frame being decoded.
	ErrShort = errors.New("fastrpc: frame: buffer shorter than the frame")
	// ErrBadMagic means the peer does not speak FastRpc.
	ErrBadMagic = errors.New("fastrpc: frame: peer is not speaking FastRpc (bad preface magic)")
	// ErrReserved means a reserved field or an undefined flag was set.
	ErrReserved = errors.New("fastrpc: frame: reserved bits set (peer speaks an incompatible protocol revision)")
	// ErrCapabilities means a capabilities body is malformed.
	ErrCapabilities = errors.New("fastrpc: frame: malformed capabilities body")
)

// VersionError reports a peer that speaks another protocol version.
type VersionError struct {
	Local, Remote uint16
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("fastrpc: frame: peer speaks FastRpc protocol version %d, this side speaks %d; upgrade the older side", e.Remote, e.Local)
}

// HandshakeStatus is what a master says in its preface about the connection.
type HandshakeStatus uint16

// Handshake statuses.
const (
	// HandshakeOK means the master will serve the connection.
	HandshakeOK HandshakeStatus = 0
	// HandshakeOverloaded means the master is at its connection limit and
	// closes the connection.
	HandshakeOverloaded HandshakeStatus = 1
	// HandshakeShuttingDown means the master is stopping and closes the
	// connection.
	HandshakeShuttingDown HandshakeStatus = 2
)

func (s HandshakeStatus) String() string {
	switch s {
	case HandshakeOK:
		return "ok"
	case HandshakeOverloaded:
		return "overloaded"
	case HandshakeShuttingDown:
		return "shutting down"
	}
	return fmt.Sprintf("handshake status %d", uint16(s))
}

// Preface opens a connection in each direction.
type Preface struct {
	Version uint16
	Status  HandshakeStatus
}

// PutPreface encodes p into b[:PrefaceSize]. It panics if b is shorter.
func PutPreface(b []byte, p Preface) {
	_ = b[PrefaceSize-1]
	copy(b, magic[:])
	binary.BigEndian.PutUint16(b[4:], p.Version)
	binary.BigEndian.PutUint16(b[6:], uint16(p.Status))
}

// ParsePreface decodes a preface. It returns [ErrBadMagic] when b does not
// start with the FastRpc magic and a [*VersionError] when the version is
// not one this package speaks (1 to [MaxVersion]); in the latter case the
// returned Preface is still filled in.
func ParsePreface(b []byte) (Preface, error) {
	if len(b) < PrefaceSize {
		return Preface{}, ErrShort
	}
	if [4]byte(b[:4]) != magic {
		return Preface{}, ErrBadMagic
	}
	p := Preface{
		Version: binary.BigEndian.Uint16(b[4:]),
		Status:  HandshakeStatus(binary.BigEndian.Uint16(b[6:])),
	}
	if p.Version < Version1 || p.Version > MaxVersion {
		return p, &VersionError{Local: MaxVersion, Remote: p.Version}
	}
	return p, nil
}

// RequestHeader precedes every request payload.
type RequestHeader struct {
	// Method is the method's ID, see [MethodID].
	Method uint64
	// Length is the number of payload bytes that follow.
	Length uint64
	// Timeout is how long the slave waits for the response; 0 means no
	// limit. It travels in nanoseconds; negative values encode as 1ns
	// (already expired).
	Timeout time.Duration
	// Flags must be 0 in versions 1 and 2.
	Flags uint32
	// Version 2 only (version 1 encodes none of them):
	// Kind is KindRequest or KindCancel.
	Kind Kind
	// ID is the call's ID, repeated by its response.
	ID uint64
	// Metadata is the length of the metadata block between the header and
	// the payload.
	Metadata uint32
}

// PutRequestHeader encodes h into b[:RequestHeaderSize]. It panics if b is
// shorter.
func PutRequestHeader(b []byte, h RequestHeader) {
	_ = b[RequestHeaderSize-1]
	binary.BigEndian.PutUint64(b[0:], h.Method)
	binary.BigEndian.PutUint64(b[8:], h.Length)
	binary.BigEndian.PutUint64(b[16:], encodeTimeout(h.Timeout))
	binary.BigEndian.PutUint32(b[24:], h.Flags)
	binary.BigEndian.PutUint32(b[28:], 0)
}

// ParseRequestHeader decodes a request header. Flags or reserved bits set
// give [ErrReserved]; a timeout beyond the range of time.Duration is
// clamped to its maximum.
func ParseRequestHeader(b []byte) (RequestHeader, error) {
	if len(b) < RequestHeaderSize {
		return RequestHeader{}, ErrShort
	}
	t := binary.BigEndian.Uint64(b[16:])
	if t > uint64(maxDuration) {
		t = uint64(maxDuration)
	}
	h := RequestHeader{
		Method:  binary.BigEndian.Uint64(b[0:]),
		Length:  binary.BigEndian.Uint64(b[8:]),
		Timeout: time.Duration(t),
		Flags:   binary.BigEndian.Uint32(b[24:]),
	}
	if h.Flags != 0 || binary.BigEndian.Uint32(b[28:]) != 0 {
		return h, ErrReserved
	}
	return h, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// encodeTimeout is a timeout on the wire: negative ones (already expired)
// travel as 1ns, since 0 means none.
func encodeTimeout(t time.Duration) uint64 {
	if t < 0 {
		t = 1
	}
	return uint64(t)
}

// ResponseHeader precedes every response payload.
type ResponseHeader struct {
	// Status says how the call ended.
	Status Status
	// Code is an application error code, 0 when none.
	Code uint32
	// Length is the number of payload bytes that follow.
	Length uint64
	// Version 2 only (version 1 encodes neither):
	// ID is the ID of the call answered.
	ID uint64
	// Metadata is the length of the metadata block between the header and
	// the payload.
	Metadata uint32
}

// PutResponseHeader encodes h into b[:ResponseHeaderSize]. It panics if b
// is shorter.
func PutResponseHeader(b []byte, h ResponseHeader) {
	_ = b[ResponseHeaderSize-1]
	b[0], b[1], b[2], b[3] = byte(h.Status), 0, 0, 0
	binary.BigEndian.PutUint32(b[4:], h.Code)
	binary.BigEndian.PutUint64(b[8:], h.Length)
}

// ParseResponseHeader decodes a response header. Reserved bits set give
// [ErrReserved]. A status this version does not define is returned as is:
// the receiver treats it as an error whose message is the payload.
func ParseResponseHeader(b []byte) (ResponseHeader, error) {
	if len(b) < ResponseHeaderSize {
		return ResponseHeader{}, ErrShort
	}
	h := ResponseHeader{
		Status: Status(b[0]),
		Code:   binary.BigEndian.Uint32(b[4:]),
		Length: binary.BigEndian.Uint64(b[8:]),
	}
	if b[1]|b[2]|b[3] != 0 {
		return h, ErrReserved
	}
	return h, nil
}

// Status is the outcome of a call, carried in the response header.
type Status uint8

// Statuses. Version 1 defines 0 to 7; version 2 adds StatusCancelled.
const (
	// StatusOK: the payload is the method's result.
	StatusOK Status = 0
	// StatusApplicationError: the handler reported an error (WriteError or a
	// returned error); the payload is its message.
	StatusApplicationError Status = 1
	// StatusUnknownMethod: the master has no method with that ID.
	StatusUnknownMethod Status = 2
	// StatusRequestTooLarge: the request length exceeds the master's limit.
	// The master closes the connection after this response.
	StatusRequestTooLarge Status = 3
	// StatusHandlerPanic: the handler panicked; the message is generic and
	// the details are in the master's log.
	StatusHandlerPanic Status = 4
	// StatusShuttingDown: the master did not process the request, because
	// it is stopping or is closing this idle connection. It closes the
	// connection after this response.
	StatusShuttingDown Status = 5
	// StatusDeadlineExceeded: the handler gave up because the call's
	// deadline passed.
	StatusDeadlineExceeded Status = 6
	// StatusPermissionDenied: the master refused the caller (an
	// authorization check); the request was not processed.
	StatusPermissionDenied Status = 7
	// StatusCancelled: the slave cancelled the call (version 2's cancel
	// frame) and the handler gave up; the handler may have done part of
	// its work.
	StatusCancelled Status = 8
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusApplicationError:
		return "application error"
	case StatusUnknownMethod:
		return "unknown method"
	case StatusRequestTooLarge:
		return "request too large"
	case StatusHandlerPanic:
		return "handler panic"
	case StatusShuttingDown:
		return "master shutting down"
	case StatusDeadlineExceeded:
		return "deadline exceeded"
	case StatusPermissionDenied:
		return "permission denied"
	case StatusCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// fnv-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// MethodID returns the wire ID of a method name: 0 for [CapabilitiesName],
// otherwise the 64-bit FNV-1a hash of the name's bytes. A name whose hash is
// 0 cannot be registered (masters refuse it).
func MethodID(name string) uint64 {
	if name == CapabilitiesName {
		return 0
	}
	h := uint64(fnvOffset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= fnvPrime
	}
	return h
}
